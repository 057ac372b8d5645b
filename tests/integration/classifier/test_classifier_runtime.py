"""The TFLite runtime against the Keras model it is exported from, on real photos: the NumPy
colour statistics against the layer, the outputs within a tolerance, the labels identical, the
export cached once per model file, the choice of runtime from config.toml, and a `vitrina
--help` that imports none of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from catalog.config import ConfigError, load_settings
from classifier.images import load_rgb
from classifier.inference import Predictor
from classifier.layers import GarmentColourStats, garment_colour_stats_np
from classifier.model import MODEL_FILE, VitrinaModel, default_model_dir, load_model
from classifier.runtime import (
    OUTPUTS,
    SPATIAL,
    SPATIAL16,
    KerasRuntime,
    TFLiteRuntime,
    cache_dir,
    choose,
    export_key,
    make_runtime,
    mixed_precision_copy,
)

DEMO = Path(__file__).resolve().parents[3] / "demo" / "photos"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache of this module's own, so that the first export is made (and timed) here."""
    folder = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("VITRINA_CACHE_DIR", str(folder))
    yield folder
    mp.undo()


@pytest.fixture(scope="module")
def model() -> VitrinaModel:
    return load_model(default_model_dir())


@pytest.fixture(scope="module")
def pixels(model: VitrinaModel) -> np.ndarray:
    files = sorted(DEMO.glob("*.jpg"))
    assert len(files) >= 100, f"demo/photos should hold the demo's real photos, found {len(files)}"
    return np.stack([load_rgb(f, model.image_size) for f in files])


@pytest.fixture(scope="module")
def outputs(
    model: VitrinaModel, pixels: np.ndarray, cache: Path
) -> dict[str, dict[str, np.ndarray]]:
    keras_rt = KerasRuntime(model.keras_model, model.image_size, mixed=False)
    lite = make_runtime(model, "tflite")
    assert isinstance(lite, TFLiteRuntime)
    return {"keras": keras_rt.run(pixels), "tflite": lite.run(pixels)}


@pytest.mark.parametrize("size", [192, 100, 45])
def test_numpy_colour_stats_match_the_layer(pixels: np.ndarray, size: int) -> None:
    """192 → 32 is a block mean; 100 and 45 take ResizeArea's fractional overlaps."""
    import tensorflow as tf

    images = pixels[:40]
    if size != images.shape[1]:
        images = tf.cast(tf.image.resize(images, (size, size)), tf.uint8).numpy()
    layer = GarmentColourStats(threshold=0.12, softness=0.04)
    expected = layer(images).numpy()
    got = garment_colour_stats_np(images, threshold=0.12, softness=0.04)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-5, rtol=1e-4)


def test_numpy_colour_stats_on_flat_greys_and_pure_hues() -> None:
    """Greys have no hue (RGBToHSV's span-0 branch); pure hues land where TF puts them."""
    colours = [(0, 0, 0), (255, 255, 255), (128, 128, 128), (255, 0, 0), (0, 255, 0),
               (0, 0, 255), (255, 0, 255), (10, 200, 199)]  # fmt: skip
    images = np.stack([np.full((64, 64, 3), c, dtype=np.uint8) for c in colours])
    images[:, 16:48, 16:48] = images[::-1, 16:48, 16:48]  # a garment unlike its border
    expected = GarmentColourStats()(images).numpy()
    np.testing.assert_allclose(garment_colour_stats_np(images), expected, atol=2e-5, rtol=1e-4)


def test_tflite_matches_keras_on_real_photos(outputs: dict[str, dict[str, np.ndarray]]) -> None:
    keras_out, lite_out = outputs["keras"], outputs["tflite"]
    assert set(OUTPUTS) | {SPATIAL, SPATIAL16} == set(lite_out) == set(keras_out)
    # the last feature map the region head reads: same numbers from both runtimes
    for name in (SPATIAL, SPATIAL16):
        np.testing.assert_allclose(lite_out[name], keras_out[name], atol=2e-3, rtol=1e-3)
    for name in OUTPUTS:
        assert lite_out[name].shape == keras_out[name].shape, name
        assert lite_out[name].dtype == np.float32
    for head in ("category", "colour"):
        np.testing.assert_allclose(lite_out[head], keras_out[head], atol=1e-4)
        np.testing.assert_allclose(lite_out[head].sum(axis=1), 1.0, atol=1e-5)
        same = lite_out[head].argmax(axis=1) == keras_out[head].argmax(axis=1)
        assert same.mean() >= 0.995, f"{head}: {same.mean():.3%} of labels identical"
    # the pooled features other parts embed photos with: same vectors, not just same labels
    np.testing.assert_allclose(lite_out["features"], keras_out["features"], atol=1e-3, rtol=1e-3)
    assert np.abs(keras_out["features"]).max() > 0.1  # real activations, not zeros


def test_lanes_split_a_batch_without_changing_its_numbers(
    model: VitrinaModel, pixels: np.ndarray, outputs: dict[str, dict[str, np.ndarray]]
) -> None:
    """Each interpreter (one per core) takes a share of the batch: uneven shares, a batch
    smaller than the lanes and a lane re-planned for a new size give the same outputs, in order,
    as the whole batch in the default runtime."""
    lite = make_runtime(model, "tflite", threads=3)
    assert isinstance(lite, TFLiteRuntime) and lite.threads == 3
    ref = outputs["tflite"]
    for n in (11, 2, 11, 1):  # 4+4+3 photos, then 1+1 (two lanes re-plan), back, then one lane
        got = lite.run(pixels[:n])
        assert set(got) == set(ref)
        for name, value in got.items():
            assert value.shape == (n, *ref[name].shape[1:]), name
            np.testing.assert_allclose(value, ref[name][:n], atol=1e-5, rtol=1e-5, err_msg=name)


def test_export_is_cached_once_per_model_file(
    model: VitrinaModel, cache: Path, outputs: dict, pixels: np.ndarray
) -> None:
    keras_file = model.path / MODEL_FILE
    assert cache_dir() == cache
    cached = cache / "tflite" / f"{export_key(model.version, keras_file)}.tflite"
    assert cached.is_file(), list(cache.rglob("*"))
    assert model.version in cached.name
    assert 1_000_000 < cached.stat().st_size < 25_000_000
    before = cached.stat().st_mtime_ns
    again = make_runtime(model, "tflite")  # read back, not exported again
    assert cached.stat().st_mtime_ns == before
    first = outputs["tflite"]["category"][:8]
    np.testing.assert_array_equal(again.run(pixels[:8])["category"], first)
    assert [p.name for p in (cache / "tflite").iterdir()] == [cached.name]  # no temp files left


def test_damaged_cached_export_is_made_again(
    model: VitrinaModel, cache: Path, outputs: dict, pixels: np.ndarray
) -> None:
    cached = cache / "tflite" / f"{export_key(model.version, model.path / MODEL_FILE)}.tflite"
    good = cached.read_bytes()
    cached.write_bytes(good[: len(good) // 3])  # what a full disk or a killed writer leaves
    lite = make_runtime(model, "tflite")
    np.testing.assert_allclose(
        lite.run(pixels[:4])["category"], outputs["tflite"]["category"][:4], atol=1e-6
    )
    assert cached.stat().st_size > len(good) // 2  # replaced by a whole export (not byte-equal)


def test_predictor_rows_same_with_either_runtime(model: VitrinaModel, cache: Path) -> None:
    files = sorted(DEMO.glob("*.jpg"))[:40]
    rows = {}
    for name in ("keras", "tflite"):
        predictor = Predictor(model, batch_size=16, runtime=name)
        assert predictor.runtime.name == name
        rows[name] = list(predictor.predict_paths(files))
    for k, t in zip(rows["keras"], rows["tflite"], strict=True):
        assert (k.category, k.colour, k.decision) == (t.category, t.colour, t.decision), k.path
        assert abs(k.category_confidence - t.category_confidence) < 1e-4
    predictor = Predictor(model, runtime="tflite")
    raw = predictor.runtime.run(load_rgb(files[0], 192)[None])
    assert raw["features"].shape == (1, model.keras_model.get_layer("heads").input[0].shape[1])
    # Predictor turns the pooled features into the photo's embedding ("more like this")
    probs = predictor.predict_arrays(load_rgb(files[0], 192)[None])
    assert probs["embedding"].shape == (1, model.embedding_dim)
    assert abs(float((probs["embedding"] ** 2).sum()) - 1.0) < 1e-4
    k_rows = rows["keras"][0].embedding
    t_rows = rows["tflite"][0].embedding
    assert k_rows is not None and t_rows is not None
    assert float(abs(k_rows - t_rows).max()) < 1e-3


def test_choice_of_runtime(tmp_path: Path) -> None:
    assert choose("tflite") == "tflite" and choose("keras") == "keras"
    assert choose("auto") in ("tflite", "keras")
    with pytest.raises(ValueError, match="unknown classifier runtime 'onnx'"):
        choose("onnx")
    config = tmp_path / "config.toml"
    config.write_text('[classifier]\nruntime = "tflite"\n', encoding="utf-8")
    assert load_settings(config).classifier.runtime == "tflite"
    config.write_text('[classifier]\nruntime = "onnx"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="runtime"):
        load_settings(config)


def test_cli_help_loads_no_model_database_or_web_code() -> None:
    """`vitrina --help` must stay fast: TensorFlow alone takes seconds to import."""
    repo = Path(__file__).resolve().parents[3]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "vitrina_cli.main", "--help"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "predict" in proc.stdout and "classify" in proc.stdout
    loaded = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    heavy = {"tensorflow", "keras", "numpy", "PIL", "sqlalchemy", "sqlmodel", "pydantic",
             "fastapi", "scrapy", "alembic", "catalog.db", "classifier.model"}  # fmt: skip
    assert not heavy & loaded, sorted(heavy & loaded)


def test_mixed_precision_copy_keeps_the_labels(
    model: VitrinaModel, pixels: np.ndarray, outputs: dict[str, dict[str, np.ndarray]]
) -> None:
    """The GPU path (float16 compute, float32 weights and outputs), run here on the CPU."""
    mixed = mixed_precision_copy(model.keras_model)
    policies = {layer.dtype_policy.name for layer in mixed.get_layer("lite0_stem").layers[1:]}
    assert policies == {"mixed_float16"}
    assert mixed.get_layer("heads").get_layer("category").dtype_policy.name == "float32"
    got = KerasRuntime(model.keras_model, model.image_size, mixed=True).run(pixels[:32])
    for head in ("category", "colour"):
        ref = outputs["keras"][head][:32]
        assert got[head].dtype == np.float32
        np.testing.assert_allclose(got[head], ref, atol=0.03)
        assert (got[head].argmax(1) == ref.argmax(1)).mean() >= 0.95
