"""Custom layers saved inside `model.keras` (registered so `keras.saving.load_model` finds them).

Import this module before loading a Vitrina model; `classifier.model.load_model` does.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

HUE_BINS = 12
VALUE_BINS = 5
SAT_BINS = 4
JOINT_VALUE_BINS = 3  # hue × lightness: navy vs blue vs light blue, burgundy vs red vs pink
GRID = 32  # the colour statistics are taken on a GRID x GRID thumbnail
COLOUR_FEATURES = HUE_BINS + VALUE_BINS + SAT_BINS + 3 + 3 + 1 + HUE_BINS * JOINT_VALUE_BINS + 6


def _soft_kernel(values: tf.Tensor, bins: int, *, circular: bool) -> tf.Tensor:
    """Triangular-kernel membership of values in [0, 1] to `bins` centres: (..., bins)."""
    step = 1.0 / bins if circular else 1.0 / max(bins - 1, 1)
    centres = tf.range(bins, dtype=values.dtype) * step
    diff = tf.abs(values[..., None] - centres)
    if circular:
        diff = tf.minimum(diff, 1.0 - diff)
    return tf.nn.relu(1.0 - diff / step)


def _soft_hist(values: tf.Tensor, weights: tf.Tensor, bins: int, *, circular: bool) -> tf.Tensor:
    """Triangular-kernel histogram of values in [0, 1], weighted per pixel: (B, bins)."""
    kernel = _soft_kernel(values, bins, circular=circular)
    return tf.reduce_sum(kernel * weights[..., None], axis=[1, 2])


def _rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB in [0, 1] → CIE Lab (D65), scaled to roughly [0, 1] / [-1, 1]."""
    lin = tf.where(rgb <= 0.04045, rgb / 12.92, tf.pow((rgb + 0.055) / 1.055, 2.4))
    m = tf.constant(
        [[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]],
        dtype=rgb.dtype,
    )
    xyz = tf.tensordot(lin, m, axes=1) / tf.constant([0.9505, 1.0, 1.089], dtype=rgb.dtype)
    f = tf.where(xyz > 0.008856, tf.pow(tf.maximum(xyz, 1e-6), 1 / 3), 7.787 * xyz + 16 / 116)
    L = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return tf.stack([L / 100.0, a / 100.0, b / 100.0], axis=-1)


@keras.saving.register_keras_serializable(package="vitrina")
class GarmentColourStats(keras.layers.Layer):
    """Colour statistics of the likely garment region of raw uint8 RGB images.

    The garment is usually in the middle and unlike the floor/bed/wall at the photo's border, so
    each pixel is weighted by its colour distance from the border's mean colour times a centred
    Gaussian. Returns a hue histogram weighted by saturation (chromatic colours), a lightness
    histogram weighted by unsaturation (black/grey/white), a saturation histogram, the weighted
    mean RGB, the border's mean RGB, the foreground fraction, a joint hue × lightness histogram
    and the region's mean and spread in CIE Lab: COLOUR_FEATURES numbers per image.
    """

    def __init__(self, threshold: float = 0.12, softness: float = 0.04, **kwargs):
        super().__init__(**kwargs)
        self.threshold = threshold
        self.softness = softness

    def call(self, images: tf.Tensor) -> tf.Tensor:
        x = tf.cast(images, tf.float32) / 255.0
        x = tf.image.resize(x, (GRID, GRID), method="area")
        border = tf.concat(
            [
                tf.reshape(x[:, :2], [-1, 2 * GRID, 3]),
                tf.reshape(x[:, -2:], [-1, 2 * GRID, 3]),
                tf.reshape(x[:, 2:-2, :2], [-1, 2 * (GRID - 4), 3]),
                tf.reshape(x[:, 2:-2, -2:], [-1, 2 * (GRID - 4), 3]),
            ],
            axis=1,
        )
        border_mean = tf.reduce_mean(border, axis=1)  # (B, 3)
        dist = tf.norm(x - border_mean[:, None, None, :], axis=-1)
        fg = tf.sigmoid((dist - self.threshold) / self.softness)
        coords = (tf.range(GRID, dtype=tf.float32) + 0.5) / GRID - 0.5
        yy, xx = tf.meshgrid(coords, coords, indexing="ij")
        centre = tf.exp(-(xx**2 + yy**2) / (2 * 0.28**2))[None]
        # A small centre-only term keeps a garment the colour of its background visible.
        w = fg * centre + 0.05 * centre
        w = w / tf.reduce_sum(w, axis=[1, 2], keepdims=True)
        hsv = tf.image.rgb_to_hsv(x)
        h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
        chroma = s * v  # 0 for black, white and greys
        hue = _soft_hist(h, w * chroma, HUE_BINS, circular=True)
        light = _soft_hist(v, w * (1.0 - chroma), VALUE_BINS, circular=False)
        sat = _soft_hist(s, w, SAT_BINS, circular=False)
        mean_rgb = tf.reduce_sum(x * w[..., None], axis=[1, 2])
        fg_frac = tf.reduce_mean(fg, axis=[1, 2])[:, None]
        # joint hue × lightness histogram of the chromatic pixels
        hue_k = _soft_kernel(h, HUE_BINS, circular=True)  # (B, G, G, H)
        val_k = _soft_kernel(v, JOINT_VALUE_BINS, circular=False)  # (B, G, G, V)
        joint = tf.einsum("bijh,bijv,bij->bhv", hue_k, val_k, w * chroma)
        joint = tf.reshape(joint, [-1, HUE_BINS * JOINT_VALUE_BINS])
        # perceptual (CIE Lab) mean and spread of the garment region
        lab = _rgb_to_lab(x)
        lab_mean = tf.reduce_sum(lab * w[..., None], axis=[1, 2])
        lab_std = tf.sqrt(
            tf.reduce_sum(tf.square(lab - lab_mean[:, None, None, :]) * w[..., None], axis=[1, 2])
            + 1e-6
        )
        return tf.concat(
            [hue, light, sat, mean_rgb, border_mean, fg_frac, joint, lab_mean, lab_std], axis=-1
        )

    def compute_output_shape(self, input_shape):  # noqa: ANN001
        return (input_shape[0], COLOUR_FEATURES)

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold, "softness": self.softness}


@keras.saving.register_keras_serializable(package="vitrina")
class PixelScaling(keras.layers.Layer):
    """uint8 pixels → (x - mean) / std floats, the way the backbone was trained."""

    def __init__(self, mean: float = 0.0, std: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.mean = mean
        self.std = std

    def call(self, images: tf.Tensor) -> tf.Tensor:
        return (tf.cast(images, self.compute_dtype) - self.mean) / self.std

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "std": self.std}


@keras.saving.register_keras_serializable(package="vitrina")
class TemperatureSoftmax(keras.layers.Layer):
    """softmax(logits / T): T is fitted on the validation split after training (calibration).

    T is a non-trainable weight, so setting it after training changes already-traced functions.
    """

    def __init__(self, temperature: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_temperature = float(temperature)

    def build(self, input_shape) -> None:  # noqa: ANN001
        self.temperature = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_temperature),
            trainable=False,
            name="temperature",
        )

    def set_temperature(self, value: float) -> None:
        self.initial_temperature = float(value)
        self.temperature.assign(float(value))

    def call(self, logits: tf.Tensor) -> tf.Tensor:
        t = tf.cast(self.temperature, tf.float32)
        return tf.nn.softmax(tf.cast(logits, tf.float32) / t, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "temperature": self.initial_temperature}


# -- NumPy port ------------------------------------------------------------------------------
# The same statistics without TensorFlow, for the TFLite runtime: ResizeArea and RGBToHSV are
# not TFLite builtins. tests/integration/classifier/test_classifier_runtime.py checks it against
# the layer.


def _area_matrix(size: int, out: int) -> np.ndarray:
    """(out, size) weights of TF's ResizeArea along one axis (align_corners=False)."""
    scale = size / out
    m = np.zeros((out, size), dtype=np.float64)
    for i in range(out):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), size)):
            m[i, j] = min(hi, j + 1) - max(lo, j)
    return (m / scale).astype(np.float32)


def _resize_area_np(images: np.ndarray, out: int) -> np.ndarray:
    """uint8 (N, H, W, 3) → float32 (N, out, out, 3) in [0, 1], as ResizeArea of x / 255."""
    n, h, w, c = images.shape
    if h % out == 0 and w % out == 0 and (h // out) * 255 < 2**16:
        # The usual case (192 → 32): exact integer block sums, ~5x faster than float means.
        # In-place adds of strided slices: twice as fast as .sum(axis, dtype) on these shapes.
        kh, kw = h // out, w // out
        strips = images.reshape(n, out, kh, w * c)
        rows = strips[:, :, 0].astype(np.uint16)
        for i in range(1, kh):
            rows += strips[:, :, i]
        cells = rows.reshape(n, out, out, kw, c)
        blocks = cells[:, :, :, 0].copy()
        for j in range(1, kw):
            blocks += cells[:, :, :, j]
        return blocks.astype(np.float32) / np.float32(kh * kw * 255)
    x = images.astype(np.float32) / np.float32(255.0)
    return np.einsum("yh,nhwc,xw->nyxc", _area_matrix(h, out), x, _area_matrix(w, out))


def _rgb_to_hsv_np(x: np.ndarray) -> np.ndarray:
    """TF's rgb_to_hsv: h, s, v in [0, 1]."""
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = x.max(axis=-1)
    span = v - x.min(axis=-1)
    s = np.where(v > 0, span / np.where(v > 0, v, 1), 0).astype(np.float32)
    norm = np.float32(1.0) / (np.float32(6.0) * np.where(span > 0, span, 1))
    h = np.where(
        r == v,
        norm * (g - b),
        np.where(g == v, norm * (b - r) + np.float32(2 / 6), norm * (r - g) + np.float32(4 / 6)),
    )
    h = np.where(span > 0, h, 0)
    h = np.where(h < 0, h + 1, h).astype(np.float32)
    return np.stack([h, s, v], axis=-1)


def _soft_bins_np(
    values: np.ndarray, bins: int, *, circular: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two non-zero entries per value of the triangular kernel (`_soft_kernel`): lower bin,
    upper bin and their weights. A value between two centres belongs to those two only (1 - frac
    and frac), so a histogram is one weighted bincount, not a (..., bins) kernel times weights:
    the statistics take half the time."""
    step = 1.0 / bins if circular else 1.0 / max(bins - 1, 1)
    t = values.reshape(len(values), -1) / np.float32(step)
    lo = np.floor(t)
    frac = (t - lo).astype(np.float32)
    lo = lo.astype(np.intp)
    hi = lo + 1
    if circular:
        lo %= bins
        hi %= bins
    else:  # values of exactly 1.0 sit on the last centre: their upper weight is 0
        np.minimum(lo, bins - 1, out=lo)
        np.minimum(hi, bins - 1, out=hi)
    return lo, hi, 1 - frac, frac


def _bincount_rows(index: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Per row of (N, P) indices in [0, size): the sum of `weights` per index, (N, size)."""
    n = len(index)
    offset = (np.arange(n, dtype=np.intp) * size)[:, None]
    flat = np.bincount((index + offset).ravel(), weights.ravel(), minlength=n * size)
    return flat.reshape(n, size).astype(np.float32)


def _soft_hist_np(values: np.ndarray, weights: np.ndarray, bins: int, *, circular: bool):  # noqa: ANN202
    lo, hi, w_lo, w_hi = _soft_bins_np(values, bins, circular=circular)
    w = weights.reshape(len(weights), -1)
    both = np.concatenate([lo, hi], axis=1)
    return _bincount_rows(both, np.concatenate([w_lo * w, w_hi * w], axis=1), bins)


def _soft_joint_np(hue: np.ndarray, value: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The hue x lightness soft histogram, (N, HUE_BINS * JOINT_VALUE_BINS)."""
    h_lo, h_hi, hw_lo, hw_hi = _soft_bins_np(hue, HUE_BINS, circular=True)
    v_lo, v_hi, vw_lo, vw_hi = _soft_bins_np(value, JOINT_VALUE_BINS, circular=False)
    w = weights.reshape(len(weights), -1)
    index, weight = [], []
    for hb, hw in ((h_lo, hw_lo), (h_hi, hw_hi)):
        for vb, vw in ((v_lo, vw_lo), (v_hi, vw_hi)):
            index.append(hb * JOINT_VALUE_BINS + vb)
            weight.append(hw * vw * w)
    joint = HUE_BINS * JOINT_VALUE_BINS
    return _bincount_rows(np.concatenate(index, axis=1), np.concatenate(weight, axis=1), joint)


def _rgb_to_lab_np(rgb: np.ndarray) -> np.ndarray:
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]],
        dtype=np.float32,
    )
    xyz = (lin.astype(np.float32) @ m) / np.array([0.9505, 1.0, 1.089], dtype=np.float32)
    f = np.where(xyz > 0.008856, np.cbrt(np.maximum(xyz, 1e-6)), 7.787 * xyz + 16 / 116)
    lab = np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )
    return (lab / 100.0).astype(np.float32)


def garment_colour_stats_np(
    images: np.ndarray, *, threshold: float = 0.12, softness: float = 0.04
) -> np.ndarray:
    """GarmentColourStats.call in NumPy: (N, S, S, 3) uint8 → (N, COLOUR_FEATURES) float32."""
    x = _resize_area_np(np.asarray(images, dtype=np.uint8), GRID)
    n = len(x)
    border = np.concatenate(
        [
            x[:, :2].reshape(n, -1, 3),
            x[:, -2:].reshape(n, -1, 3),
            x[:, 2:-2, :2].reshape(n, -1, 3),
            x[:, 2:-2, -2:].reshape(n, -1, 3),
        ],
        axis=1,
    )
    border_mean = border.mean(axis=1)
    dist = np.sqrt(np.square(x - border_mean[:, None, None, :]).sum(axis=-1))
    fg = 1 / (1 + np.exp(-(dist - threshold) / softness))
    coords = (np.arange(GRID, dtype=np.float32) + 0.5) / GRID - 0.5
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    centre = np.exp(-(xx**2 + yy**2) / (2 * 0.28**2))[None]
    w = fg * centre + 0.05 * centre
    w = w / w.sum(axis=(1, 2), keepdims=True)
    hsv = _rgb_to_hsv_np(x)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    chroma = s * v
    hue = _soft_hist_np(h, w * chroma, HUE_BINS, circular=True)
    light = _soft_hist_np(v, w * (1 - chroma), VALUE_BINS, circular=False)
    sat = _soft_hist_np(s, w, SAT_BINS, circular=False)
    mean_rgb = (x * w[..., None]).sum(axis=(1, 2))
    fg_frac = fg.mean(axis=(1, 2))[:, None]
    joint = _soft_joint_np(h, v, w * chroma)
    lab = _rgb_to_lab_np(x)
    lab_mean = (lab * w[..., None]).sum(axis=(1, 2))
    lab_std = np.sqrt(
        (np.square(lab - lab_mean[:, None, None, :]) * w[..., None]).sum(axis=(1, 2)) + 1e-6
    )
    out = [hue, light, sat, mean_rgb, border_mean, fg_frac, joint, lab_mean, lab_std]
    return np.concatenate(out, axis=-1).astype(np.float32)
