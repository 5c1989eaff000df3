"""Readers of real checkpoints: GGUF (via the `gguf` package) and safetensors.

GGUF tensors are de-quantized to float32 with gguf.quants.dequantize (Q4_1, Q8_0, F16, ...).
Weights read from a quantized GGUF lie on that file's grid (e.g. Q4_1: 16 levels per 32
weights), so outlier statistics measured on them describe that file, not the original model.

safetensors is read directly (8-byte header length, JSON header, raw little-endian data): that
needs no package and handles BF16, which numpy lacks (BF16 -> float32 by a 16-bit shift).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from qmcsim.errors import ConfigError
from qmcsim.weights.names import gguf_to_model, hf_to_model

SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64,
                      "BF16": np.uint16}


class GgufWeights:
    def __init__(self, path: Path, *, file: str, field_path: str) -> None:
        try:
            import gguf
        except ImportError:
            raise ConfigError(file, field_path, "the 'gguf' package is needed to read "
                              f"{path}: pip install gguf") from None
        try:
            self._reader = gguf.GGUFReader(str(path))
        except (OSError, ValueError) as exc:
            raise ConfigError(str(path), "", f"a readable GGUF file expected ({exc})") from None
        self._dequantize = gguf.quants.dequantize
        self.path = path
        self.tensors = {}
        for t in self._reader.tensors:
            name = gguf_to_model(t.name)
            if name is not None:
                self.tensors[name] = t

    def names(self) -> set[str]:
        return set(self.tensors)

    def array(self, name: str) -> np.ndarray:
        t = self.tensors[name]
        return np.asarray(self._dequantize(t.data, t.tensor_type), dtype=np.float32)


class SafetensorsWeights:
    def __init__(self, path: Path, *, file: str, field_path: str) -> None:
        self.path = path
        try:
            with path.open("rb") as f:
                (length,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(length))
        except (OSError, ValueError, struct.error) as exc:
            raise ConfigError(str(path), "", f"a safetensors file expected ({exc})") from None
        self._offset = 8 + length
        self.tensors = {}
        for key, info in header.items():
            if key == "__metadata__" or info.get("dtype") not in SAFETENSORS_DTYPES:
                continue
            self.tensors[hf_to_model(key)] = info
        self._mm = np.memmap(path, dtype=np.uint8, mode="r")

    def names(self) -> set[str]:
        return set(self.tensors)

    def array(self, name: str) -> np.ndarray:
        info = self.tensors[name]
        start, end = info["data_offsets"]
        raw = self._mm[self._offset + start: self._offset + end]
        dtype = SAFETENSORS_DTYPES[info["dtype"]]
        a = raw.view(np.dtype(dtype).newbyteorder("<"))
        if info["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        return np.asarray(a, dtype=np.float32).reshape(info["shape"])
