"""The `make run` demo: emulator, catalogue, pipeline, web and scheduler on one machine."""
