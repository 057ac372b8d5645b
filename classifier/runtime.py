"""What runs the model: Keras/TensorFlow, or the same weights exported to TensorFlow Lite.

Both take (N, S, S, 3) uint8 pixels and return {"category": (N, 17), "colour": (N, 13),
"features": (N, D)} (calibrated probabilities and the backbone's pooled features).

`model.keras` stays the source of truth. On a CPU the float32 TFLite form with XNNPACK takes
about 0.7x the CPU time of the TensorFlow graph for the same numbers (docs/classifier.md,
"Runtimes": int8 would be faster but changes labels, ONNX Runtime is slower), so "auto" exports
it once per model version (cached under ~/.cache/vitrina/tflite) and runs that; on a GPU "auto"
keeps Keras, batched, in mixed precision.
The colour statistics layer uses ops TFLite lacks (ResizeArea, RGBToHSV), so the TFLite runtime
computes them with `classifier.layers.garment_colour_stats_np` and feeds them in.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

RuntimeName = Literal["auto", "tflite", "keras"]
RUNTIMES: tuple[str, ...] = ("auto", "tflite", "keras")
OUTPUTS = ("category", "colour", "features")
# The backbone's last feature map (N, 6, 6, 1280) before pooling, for the garment-region head
# (classifier.regions): an extra output of the same run, so regions cost no second backbone pass.
SPATIAL = "spatial"
SPATIAL16 = "spatial16"  # (N, 12, 12, 112): the stride-16 map, for boxes of smaller garments
CACHE_ENV = "VITRINA_CACHE_DIR"

log = logging.getLogger("vitrina.classifier")


def cpu_count() -> int:
    """Cores this process may use (a container's or taskset's limit, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def configure_tf_threads(threads: int | None = None) -> None:
    """One TensorFlow pool of `threads` per process, so that TF, the interpreter and the decode
    threads do not each assume the whole machine. Only possible before TF runs its first op."""
    import tensorflow as tf

    n = threads or cpu_count()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))
    except RuntimeError:  # TF already initialised by the caller: keep its pools
        pass


def has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


class Runtime(Protocol):
    name: str

    def run(self, pixels: np.ndarray) -> dict[str, np.ndarray]: ...


def backbone_with_spatial(keras_model, x):  # noqa: ANN001, ANN201
    """(pooled features, {SPATIAL: last feature map, SPATIAL16: the map the last two stages
    start from}) of `x` through the backbone chain ({} for a backbone without them): the last
    sub-model is called once with two outputs (shared layers, nothing computed twice)."""
    import keras

    maps = {}
    for layer in _backbone_chain(keras_model):
        names = [sub.name for sub in getattr(layer, "layers", [])]
        if isinstance(layer, keras.Model) and "head_relu" in names:
            split = keras.Model(layer.input, [layer.get_layer("head_relu").output, layer.output])
            last, pooled = split(x)
            maps = {SPATIAL: last, SPATIAL16: x}  # in this order: the TFLite outputs follow it
            x = pooled
        else:
            x = layer(x)
    return x, maps


def _backbone_chain(keras_model):  # noqa: ANN001, ANN202
    """The layers from the pixels to the pooled features (scaling ▸ stem ▸ top), in order."""
    import keras

    from classifier.layers import GarmentColourStats

    return [
        layer
        for layer in keras_model.layers
        if not isinstance(layer, keras.layers.InputLayer | GarmentColourStats)
        and layer.name != "heads"
    ]


class KerasRuntime:
    """The Keras model as one compiled TensorFlow function per batch; in mixed precision on a
    GPU (`mixed=None`: when one is present), where float16 doubles the throughput."""

    name = "keras"

    def __init__(self, keras_model, image_size: int, *, mixed: bool | None = None):  # noqa: ANN001
        import keras
        import tensorflow as tf

        self.mixed = has_gpu() if mixed is None else mixed
        model = mixed_precision_copy(keras_model) if self.mixed else keras_model
        from classifier.layers import GarmentColourStats

        pixels = keras.Input((image_size, image_size, 3), dtype="uint8", name="pixels")
        feats, maps = backbone_with_spatial(model, pixels)
        stats = next(x for x in model.layers if isinstance(x, GarmentColourStats))(pixels)
        heads = model.get_layer("heads")([feats, stats])
        outs = {"category": heads["category"], "colour": heads["colour"], "features": feats}
        outs.update(maps)
        full = keras.Model(pixels, outs)
        self.outputs = tuple(outs)

        @tf.function(
            input_signature=[tf.TensorSpec((None, image_size, image_size, 3), tf.uint8)],
            reduce_retracing=True,
        )
        def run(pixels: tf.Tensor) -> dict[str, tf.Tensor]:
            out = full(pixels, training=False)
            return {k: tf.cast(v, tf.float32) for k, v in out.items()}

        self._run = run

    def run(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        import tensorflow as tf

        out = self._run(tf.constant(pixels, dtype=tf.uint8))
        return {k: out[k].numpy() for k in self.outputs}


def mixed_precision_copy(keras_model):  # noqa: ANN001, ANN201
    """The same model and weights with float16 compute (float32 variables and outputs)."""
    import keras

    from classifier.layers import GarmentColourStats, TemperatureSoftmax

    keep32 = (keras.layers.InputLayer, GarmentColourStats, TemperatureSoftmax)

    def clone(layer):  # noqa: ANN001, ANN202
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=clone)
        if isinstance(layer, keep32):
            return layer.__class__.from_config(layer.get_config())
        return layer.__class__.from_config({**layer.get_config(), "dtype": "mixed_float16"})

    copy = keras.models.clone_model(keras_model, clone_function=clone)
    copy.set_weights(keras_model.get_weights())
    return copy


# -- TensorFlow Lite -------------------------------------------------------------------------


def _interpreter_class():  # noqa: ANN202
    """LiteRT's interpreter where installed (TF's tf.lite is deprecated for it), else TF's."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-not-found]
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806 - still shipped (and working) in TF 2.21
    return Interpreter


def cache_dir() -> Path:
    """$VITRINA_CACHE_DIR, else $XDG_CACHE_HOME/vitrina, else ~/.cache/vitrina."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vitrina"


def export_key(version: str, keras_file: Path) -> str:
    """A cached export belongs to one model file and one TensorFlow: version, file size and
    mtime, TF version (a retrained model with the same version string gets a new key)."""
    import tensorflow as tf

    stat = keras_file.stat()
    ident = f"{version}|{stat.st_size}|{stat.st_mtime_ns}"
    # "+spatial16": exports from before the feature-map output are not reused.
    digest = hashlib.sha256(f"{ident}|{tf.__version__}|+spatial16".encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in version)
    return f"{safe}-{digest}"


def export_tflite(keras_model, image_size: int) -> bytes:  # noqa: ANN001
    """(pixels uint8, colour stats float32) → category, colour, features, as a float32 TFLite
    flatbuffer of builtin ops only (the colour statistics are computed outside)."""
    import keras
    import tensorflow as tf

    from classifier.layers import COLOUR_FEATURES

    pixels = keras.Input((image_size, image_size, 3), dtype="uint8", name="pixels")
    stats = keras.Input((COLOUR_FEATURES,), name="colour_stats")
    x, maps = backbone_with_spatial(keras_model, pixels)
    heads = keras_model.get_layer("heads")([x, stats])
    outs = {"category": heads["category"], "colour": heads["colour"], "features": x, **maps}
    names = tuple(outs)
    sub = keras.Model([pixels, stats], outs)

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, image_size, image_size, 3), tf.uint8, name="pixels"),
            tf.TensorSpec((None, COLOUR_FEATURES), tf.float32, name="colour_stats"),
        ]
    )
    def serve(p: tf.Tensor, s: tf.Tensor) -> tuple[tf.Tensor, ...]:
        out = sub([p, s], training=False)
        return tuple(out[k] for k in names)  # freezing names them output_0, output_1, ...

    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    # Keras 3 weights are not tracked the way the converter expects: freeze them into constants
    # first, or the flatbuffer holds READ_VARIABLE ops with no values behind them.
    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen], sub)
    # Straight from the frozen function: lowering it to a SavedModel first (the converter's
    # default when given the Keras model) re-traces and saves every function of the model, two
    # thirds of the export's CPU time, for the same flatbuffer without a SignatureDef
    # (`_signature` names the tensors then).
    converter.experimental_lower_to_saved_model = False
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def cached_export(
    keras_model,  # noqa: ANN001
    image_size: int,
    version: str,
    keras_file: Path | None,
    *,
    refresh: bool = False,
) -> bytes:
    """The TFLite export from the cache, or made now and cached (atomically: concurrent
    processes may export at once; the last rename wins and both exports are equivalent). A model
    not saved to a file (one being trained) is exported each time, never cached."""
    if keras_file is None or not keras_file.is_file():
        return export_tflite(keras_model, image_size)
    path = cache_dir() / "tflite" / f"{export_key(version, keras_file)}.tflite"
    if path.is_file() and not refresh:
        return path.read_bytes()
    log.info("exporting %s to TensorFlow Lite (once per model version) → %s", version, path)
    data = export_tflite(keras_model, image_size)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(
                missing_ok=True
            )  # a read-only home still runs, it just exports again next time
        log.warning("cannot cache the TFLite export in %s: %s", path.parent, exc)
    return data


def _signature(interp) -> tuple[dict[str, int], dict[str, int]]:  # noqa: ANN001
    """Input and output name → tensor index. The signature runner holds views of the
    interpreter's buffers, which forbid resizing while it lives: it must die here.

    An export without a SignatureDef (`export_tflite`'s, converted straight from the frozen
    function) names its inputs after the function's and its outputs Identity, Identity_1, …
    in the function's order: those become output_0, output_1, … as in a signature."""
    if not interp.get_signature_list():
        inputs = {d["name"]: d["index"] for d in interp.get_input_details()}
        outputs = {}
        for d in interp.get_output_details():
            m = re.fullmatch(r"Identity(?:_(\d+))?", d["name"])
            if m is not None:
                outputs[f"output_{int(m.group(1) or 0)}"] = d["index"]
        return inputs, outputs
    runner = interp.get_signature_runner()
    inputs = {k: d["index"] for k, d in runner.get_input_details().items()}
    outputs = {k: d["index"] for k, d in runner.get_output_details().items()}
    return inputs, outputs


class _Lane:
    """One single-threaded interpreter and the batch size it is planned for."""

    def __init__(self, interp, out: dict[str, int], pix: int, stats: int):  # noqa: ANN001
        self.interp, self.out, self.pix, self.stats = interp, out, pix, stats
        self.batch = -1

    def run(self, pixels: np.ndarray, stats: np.ndarray) -> dict[str, np.ndarray]:
        n = len(pixels)
        if n != self.batch:  # XNNPACK plans per shape: re-plan only when the size changes
            self.interp.resize_tensor_input(self.pix, list(pixels.shape))
            self.interp.resize_tensor_input(self.stats, list(stats.shape))
            self.interp.allocate_tensors()
            self.batch = n
        self.interp.set_tensor(self.pix, pixels)
        self.interp.set_tensor(self.stats, stats)
        self.interp.invoke()  # releases the GIL: the lanes run side by side
        # copies: the interpreter's buffers are overwritten by its next call
        return {k: self.interp.get_tensor(i).copy() for k, i in self.out.items()}


class TFLiteRuntime:
    """The exported model in the TFLite interpreter with XNNPACK; the colour statistics in NumPy
    (a port of GarmentColourStats, tested against it).

    One single-threaded interpreter ("lane") per core, each on its share of the batch (its
    colour statistics included), rather than one interpreter whose pool splits every op across
    the cores: same CPU time per photo, but no barrier after each of the ~70 ops, so a decode
    thread or another process taking a core for a moment delays one lane, not every op."""

    name = "tflite"

    def __init__(
        self,
        keras_model,  # noqa: ANN001
        image_size: int,
        *,
        version: str = "",
        keras_file: Path | None = None,
        threads: int | None = None,
        model_content: bytes | None = None,
    ):
        from classifier.layers import GarmentColourStats

        layer = next(x for x in keras_model.layers if isinstance(x, GarmentColourStats))
        self._stats_args = {"threshold": layer.threshold, "softness": layer.softness}
        self.image_size = image_size
        self.threads = threads or cpu_count()
        content = model_content or cached_export(keras_model, image_size, version, keras_file)
        try:
            first = self._open(content)
        except ValueError as exc:  # a damaged cached file (disk full, killed writer): export again
            if model_content is not None:
                raise
            log.warning(
                "the cached TFLite export of %s is unusable (%s): exporting again",
                version,
                str(exc),
            )
            content = cached_export(keras_model, image_size, version, keras_file, refresh=True)
            first = self._open(content)
        # The export's signature names its tensors after the Keras inputs and outputs.
        inputs, outputs = _signature(first)
        names = OUTPUTS + (SPATIAL, SPATIAL16) if len(outputs) > len(OUTPUTS) else OUTPUTS
        out = {k: outputs.get(f"output_{i}", -1) for i, k in enumerate(names)}
        if set(inputs) != {"pixels", "colour_stats"} or len(outputs) != len(names):
            raise RuntimeError(f"unexpected TFLite signature: {inputs}, {outputs}")
        interps = [first] + [self._open(content) for _ in range(self.threads - 1)]
        self._lanes = [_Lane(i, out, inputs["pixels"], inputs["colour_stats"]) for i in interps]
        self._pool = ThreadPoolExecutor(self.threads, "tflite-lane") if self.threads > 1 else None
        self._lock = threading.Lock()  # one batch at a time: each lane holds one plan

    def _open(self, content: bytes):  # noqa: ANN202
        with warnings.catch_warnings():  # tf.lite's notice that LiteRT is its successor
            warnings.simplefilter("ignore", UserWarning)
            return _interpreter_class()(model_content=content, num_threads=1)

    def _lane_run(self, lane: _Lane, pixels: np.ndarray) -> dict[str, np.ndarray]:
        from classifier.layers import garment_colour_stats_np

        return lane.run(pixels, garment_colour_stats_np(pixels, **self._stats_args))

    def run(self, pixels: np.ndarray) -> dict[str, np.ndarray]:
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        # Equal shares, so that every lane's plan stays the same from one full batch to the next
        # (a smaller last batch re-plans once).
        shares = np.array_split(pixels, max(1, min(len(self._lanes), len(pixels))))
        with self._lock:
            if self._pool is None or len(shares) == 1:
                parts = [self._lane_run(self._lanes[0], shares[0])]
            else:
                parts = list(self._pool.map(self._lane_run, self._lanes, shares))
        if len(parts) == 1:
            return parts[0]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def choose(requested: str) -> str:
    """The runtime that "auto" means here: keras where TensorFlow sees a GPU, else tflite."""
    if requested not in RUNTIMES:
        raise ValueError(f"unknown classifier runtime {requested!r}: use one of {RUNTIMES}")
    if requested != "auto":
        return requested
    return "keras" if has_gpu() else "tflite"


def make_runtime(model, requested: str = "auto", *, threads: int | None = None) -> Runtime:  # noqa: ANN001
    """The runtime for a loaded `classifier.model.VitrinaModel`."""
    from classifier.model import MODEL_FILE

    kind = choose(requested)
    if kind == "keras":
        return KerasRuntime(model.keras_model, model.image_size)
    try:
        return TFLiteRuntime(
            model.keras_model,
            model.image_size,
            version=model.version,
            keras_file=Path(model.path) / MODEL_FILE,
            threads=threads,
        )
    except Exception as exc:  # noqa: BLE001 - e.g. a backbone with an op TFLite lacks
        if requested != "auto":
            raise
        log.warning("%s cannot run in TFLite (%s): using keras", model.version, exc)
        return KerasRuntime(model.keras_model, model.image_size)
