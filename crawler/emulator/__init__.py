"""A local stand-in for Instagram, Mastodon, Bluesky and Shopify: `server.EmulatorServer` serves
a `catalogue.Catalogue` of shops, photos drawn by `synth.draw_garment`, with `faults.Faults`."""
