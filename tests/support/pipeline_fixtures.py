"""Fixtures for the pipeline, demo and scale-out tests: a small emulator and a usable model.

Loaded with `pytest_plugins = ["tests.support.pipeline_fixtures"]` by the modules that need them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crawler.emulator.catalogue import Catalogue
from crawler.emulator.server import EmulatorServer
from tests.support.common import REPO


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """The demo's eight shops (two per network), two one-photo posts each, on a free port."""
    with EmulatorServer(Catalogue.demo(posts_per_shop=2, photos_per_post=1, quirks=False)) as emu:
        yield emu


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The committed default model when there is one, else a tiny model trained here on
    synthetic garments (about 20 s): the pipeline needs *a* real model, not a good one."""
    # Looked up by path: importing the classifier would load TensorFlow into the test process,
    # whose bundled SQLite lacks FTS5 and would then break the catalogue's migrations here.
    committed = sorted((REPO / "classifier" / "models").glob("*/model.keras"))
    if committed:
        return str(committed[0].parent)
    from demo.synthetic import train_tiny_model, write_dataset

    data = tmp_path_factory.mktemp("synth")
    write_dataset(data, per_category=4)
    return str(train_tiny_model(tmp_path_factory.mktemp("model") / "tiny", data))
