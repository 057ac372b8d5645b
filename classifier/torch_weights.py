"""Read a PyTorch `.pth` state dict into NumPy arrays without importing torch.

The EfficientNet-Lite0 ImageNet weights we port ship as a *legacy* (pre-1.6, non-zip) torch
checkpoint: five pickles in a row (magic number, protocol version, sys info, the state dict whose
tensors point at storages by persistent id, the list of storage keys) followed by each storage's
raw bytes (an int64 element count, then the data). Newer zip checkpoints (`data.pkl` plus one file
per storage) are read too. Only the few classes a state dict needs are allowed, so a malicious
pickle cannot run code.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),  # kept raw; not used by our checkpoints
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass
class _Storage:
    dtype: np.dtype
    size: int
    data: np.ndarray | None = None


@dataclass
class _LazyTensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    extra: list[Any] = field(default_factory=list)

    def materialise(self) -> np.ndarray:
        assert self.storage.data is not None, "storage was never read"
        flat = self.storage.data
        if not self.shape:
            return flat[self.offset].copy()
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.shape,
            strides=tuple(s * itemsize for s in self.stride),
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *rest: Any):
    return _LazyTensor(storage, int(offset), tuple(size), tuple(stride), list(rest))


class _StorageType:
    def __init__(self, name: str):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


class _SafeUnpickler(pickle.Unpickler):
    """Allows OrderedDict, torch storage types and the tensor rebuild functions only."""

    def __init__(self, file: IO[bytes], storages: dict[str, _Storage], loader=None):
        super().__init__(file)
        self.storages = storages
        self.loader = loader  # zip format: reads a storage's bytes by key

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid: Any) -> Any:
        kind = pid[0].decode() if isinstance(pid[0], bytes) else pid[0]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {kind!r}")
        storage_type, key, _location, size = pid[1], str(pid[2]), pid[3], int(pid[4])
        dtype = (
            storage_type.dtype
            if isinstance(storage_type, _StorageType)
            else np.dtype(str(storage_type))
        )
        if key not in self.storages:
            self.storages[key] = _Storage(dtype, size)
            if self.loader is not None:
                self.storages[key].data = self.loader(key, dtype)
        if len(pid) > 5 and pid[5] is not None:  # legacy view: (view_key, offset, size)
            raise pickle.UnpicklingError("storage views are not supported")
        return self.storages[key]


def _read_legacy(f: IO[bytes]) -> dict[str, np.ndarray]:
    magic = pickle.load(f)
    if magic != _LEGACY_MAGIC:
        raise ValueError("not a PyTorch checkpoint (bad magic number)")
    pickle.load(f)  # protocol version
    sys_info = pickle.load(f)
    if not sys_info.get("little_endian", True):
        raise ValueError("big-endian checkpoints are not supported")
    storages: dict[str, _Storage] = {}
    state = _SafeUnpickler(f, storages).load()
    keys = pickle.load(f)
    for key in keys:
        st = storages[str(key)]
        count = int(np.frombuffer(f.read(8), "<i8")[0])
        st.data = np.frombuffer(f.read(count * st.dtype.itemsize), st.dtype)
    return state


def _read_zip(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        root = names[0].split("/")[0]

        def loader(key: str, dtype: np.dtype) -> np.ndarray:
            return np.frombuffer(zf.read(f"{root}/data/{key}"), dtype)

        with zf.open(f"{root}/data.pkl") as pkl:
            return _SafeUnpickler(pkl, {}, loader).load()


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """`{name: array}` of a PyTorch state dict file (legacy or zip format), torch-free."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        state = _read_zip(path)
    else:
        with path.open("rb") as f:
            state = _read_legacy(f)
    return {
        k: (v.materialise() if isinstance(v, _LazyTensor) else np.asarray(v))
        for k, v in state.items()
    }
