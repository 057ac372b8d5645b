"""A saved model records the TensorFlow/Keras/NumPy it was saved with; loading it under other
major.minor versions says so in the log."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from classifier.model import (
    DEFAULT_MODEL_NAME,
    LIBRARIES_KEY,
    METADATA_FILE,
    MODELS_DIR,
    check_library_versions,
    load_model,
    save_model,
)

COMMITTED = MODELS_DIR / DEFAULT_MODEL_NAME


def _tiny(tmp_path: Path) -> Path:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    return save_model(model, {"version": "tiny"}, tmp_path / "tiny")


def test_save_records_the_libraries_and_a_matching_load_is_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _tiny(tmp_path)
    meta = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    assert meta["version"] == "tiny"
    assert meta[LIBRARIES_KEY] == {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }
    with caplog.at_level(logging.WARNING, logger="vitrina.classifier"):
        loaded = load_model(folder)
    assert loaded.version == "tiny" and caplog.records == []


def test_a_different_minor_version_is_a_warning_naming_both(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _tiny(tmp_path)
    meta_file = folder / METADATA_FILE
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    major = int(keras.__version__.split(".")[0])
    patch_only = tf.__version__.rsplit(".", 1)[0] + ".999"  # same major.minor: no warning
    meta[LIBRARIES_KEY].update(keras=f"{major}.999.0", tensorflow=patch_only)
    meta_file.write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="vitrina.classifier"):
        load_model(folder)  # still loads: the warning is for the operator, not a refusal
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert f"saved with keras {major}.999.0, this is keras {keras.__version__}" in record.message
    assert str(folder) in record.message


def test_the_committed_model_records_what_it_was_saved_with() -> None:
    meta = json.loads((COMMITTED / METADATA_FILE).read_text(encoding="utf-8"))
    assert set(meta[LIBRARIES_KEY]) == {"tensorflow", "keras", "numpy"}
    # The .keras archive's own record agrees on Keras.
    import zipfile

    with zipfile.ZipFile(COMMITTED / "model.keras") as archive:
        saved = json.loads(archive.read("metadata.json"))
    assert meta[LIBRARIES_KEY]["keras"] == saved["keras_version"]
    # Under the locked versions the committed model loads without a version warning.
    assert check_library_versions(meta, COMMITTED) == []
