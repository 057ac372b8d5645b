"""One spider per network; each crawls the shops of its network listed in its `shops` argument."""
