"""`vitrina emulator`: a local stand-in for Instagram, Mastodon, Bluesky and Shopify."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import typer

from vitrina_cli.common import console, fail


def emulator(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8765, help="Port to listen on (0 = any free port)."),
    images: Path | None = typer.Option(None, help="Serve real photos from this folder…"),
    labels: Path | None = typer.Option(
        None, help="…as listed in this CSV (image,category,colour)."
    ),
    demo_photos: bool = typer.Option(
        False, "--demo-photos", help="Serve the committed real demo photos (demo/photos)."
    ),
    posts_per_shop: int = typer.Option(30, help="Posts per demo shop."),
    photos_per_post: int = typer.Option(2, help="Photos per post."),
    seed: int = typer.Option(0, help="Seed of the generated catalogue."),
    print_config: bool = typer.Option(
        False, "--print-config", help="Print the config.toml entries for this emulator and exit."
    ),
    latency_ms: float = typer.Option(0, help="Delay added to every response."),
    error_rate: float = typer.Option(0, help="Fraction of requests answered with a 5xx."),
    fail_first: int = typer.Option(0, help="Every URL fails this many times before working."),
    burst_every: int = typer.Option(0, help="429 bursts: after this many requests…"),
    burst_length: int = typer.Option(0, help="…refuse this many with 429 (Instagram: code 4)."),
    retry_after: float | None = typer.Option(None, help="Retry-After seconds on 429s."),
    slow_rate: float = typer.Option(0, help="Fraction of responses delayed by --slow-ms."),
    slow_ms: float = typer.Option(0, help="Extra delay of slow responses."),
    truncated_rate: float = typer.Option(0, help="Fraction of photos served cut short."),
    corrupt_rate: float = typer.Option(0, help="Fraction of photos that are not images."),
    malformed_rate: float = typer.Option(0, help="Fraction of API pages with broken JSON."),
    new_posts_every: float = typer.Option(
        0, help="Every this many seconds, each shop publishes a new post (0 = never)."
    ),
    flavour: str = typer.Option(
        "mastodon", help="Serve the Mastodon API as mastodon, pixelfed or gotosocial does."
    ),
) -> None:
    """Serve demo shops on all four networks' APIs, with faults on demand."""
    from crawler.emulator import catalogue as emulated
    from crawler.emulator.catalogue import Catalogue, load_real_photos
    from crawler.emulator.faults import Faults
    from crawler.emulator.server import EmulatorServer

    real = None
    if demo_photos:
        if images or labels:
            fail("--demo-photos or --images/--labels, not both")
        try:
            real = emulated.demo_photos()
        except (OSError, ValueError) as exc:
            fail(str(exc))
    elif images or labels:
        if not (images and labels):
            fail("--images and --labels go together")
        try:
            real = load_real_photos(images, labels)
        except (OSError, ValueError) as exc:
            fail(str(exc))
    catalogue = Catalogue.demo(posts_per_shop, photos_per_post, seed, real)
    faults = Faults(
        latency_ms=latency_ms,
        error_rate=error_rate,
        fail_first=fail_first,
        burst_every=burst_every,
        burst_length=burst_length,
        retry_after=retry_after,
        slow_rate=slow_rate,
        slow_ms=slow_ms,
        truncated_rate=truncated_rate,
        corrupt_rate=corrupt_rate,
        malformed_rate=malformed_rate,
        seed=seed,
    )
    if print_config:
        # Printing the config must work while the emulator itself already holds the port.
        try:
            probe = EmulatorServer(catalogue, faults, host=host, port=0, flavour=flavour)
        except ValueError as exc:
            fail(str(exc))
        print(probe.config_toml(port=port or probe.port))
        probe.httpd.server_close()
        return
    try:
        server = EmulatorServer(catalogue, faults, host=host, port=port, flavour=flavour)
    except ValueError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    if new_posts_every > 0:

        def grow() -> None:
            while True:
                time.sleep(new_posts_every)
                for shop in list(catalogue.shops.values()):
                    catalogue.add_posts(shop.network, shop.handle, 1, photos_per_post)

        threading.Thread(target=grow, daemon=True).start()
    console.print(
        f"[green]✓[/] emulator on {server.base_url}: {len(catalogue.shops)} shops, "
        f"{catalogue.post_count()} posts, {len(catalogue.photos)} photos "
        f"({'real photos' if real else 'drawn garments'}); "
        "`vitrina emulator --print-config` prints the config. Ctrl-C stops.",
        highlight=False,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
