"""Custom layers saved inside `model.keras` (registered so `keras.saving.load_model` finds them).

Import this module before loading a Vitrina model; `classifier.model.load_model` does.
"""

from __future__ import annotations

import keras
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
