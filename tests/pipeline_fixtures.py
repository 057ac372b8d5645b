"""Fixtures for the pipeline, demo and scale-out tests: a small emulator and a usable model.

Loaded with `pytest_plugins = ["tests.pipeline_fixtures"]` by the modules that need them.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from catalog.taxonomy import CATEGORIES, COLOURS
from crawler.emulator.catalogue import Catalogue
from crawler.emulator.server import EmulatorServer
from tests.conftest import REPO


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
    from crawler.emulator.synth import garment_jpeg

    data = tmp_path_factory.mktemp("synth")
    with (data / "labels.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "category", "colour"])
        for i in range(60):
            cat, col = CATEGORIES[i % len(CATEGORIES)], COLOURS[(i * 7) % len(COLOURS)]
            (data / f"{i}.jpg").write_bytes(garment_jpeg(cat, col, i, (160, 200)))
            writer.writerow([f"{i}.jpg", cat, col])
    out = tmp_path_factory.mktemp("model") / "tiny"
    argv = [sys.executable, "-m", "vitrina_cli.main", "train", "--data", str(data)]
    argv += ["--out", str(out), "--backbone", "scratch", "--from-scratch", "--image-size", "64"]
    argv += ["--head-epochs", "2", "--fine-tune-epochs", "0", "--no-compare"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRINA_")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return str(out)
