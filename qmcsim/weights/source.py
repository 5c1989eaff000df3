"""One way to ask for a model tensor's weights, whatever they come from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from qmcsim.errors import ConfigError
from qmcsim.models.shape import ModelShape, Tensor
from qmcsim.weights.files import GgufWeights, SafetensorsWeights
from qmcsim.weights.synthetic import synthetic_weights

SYNTHETIC = "synthetic"


class _File(Protocol):
    def names(self) -> set[str]: ...
    def array(self, name: str) -> np.ndarray: ...


class WeightSource(Protocol):
    @property
    def description(self) -> str: ...

    def get(self, tensor: Tensor) -> np.ndarray | None: ...


@dataclass(frozen=True)
class SyntheticSource:
    seed: int
    description: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "description", f"synthetic (Student-t + spikes, seed "
                                                f"{self.seed})")

    def get(self, tensor: Tensor) -> np.ndarray:
        return synthetic_weights(tensor, self.seed)


class FileSource:
    """Tensors of a checkpoint matched to the model by name; a shape mismatch is an error."""

    def __init__(self, reader: _File, path: Path, model: ModelShape) -> None:
        self.reader = reader
        self.path = path
        held = reader.names()
        self.matched = {t.name for t in model.tensors} & held
        if not self.matched:
            raise ConfigError(str(path), "", f"no tensor of model {model.name} found in the file "
                              f"(it holds e.g. {sorted(held)[:3]})")
        self.description = f"{path.name} ({len(self.matched)} of {len(model.tensors)} tensors)"

    def get(self, tensor: Tensor) -> np.ndarray | None:
        if tensor.name not in self.matched:
            return None
        a = self.reader.array(tensor.name)
        if a.size != tensor.numel or (a.ndim == 2 and a.shape != (tensor.rows, tensor.cols)):
            raise ConfigError(str(self.path), tensor.name, f"shape {tensor.rows} x "
                              f"{tensor.cols} expected for model {tensor.name!r}, file has "
                              f"{a.shape}")
        return a.reshape(tensor.rows, tensor.cols)


class ShardedWeights:
    """A Hugging Face model folder: the tensors of all its *.safetensors shards."""

    def __init__(self, shards: list[SafetensorsWeights]) -> None:
        self.where = {name: s for s in shards for name in s.names()}

    def names(self) -> set[str]:
        return set(self.where)

    def array(self, name: str) -> np.ndarray:
        return self.where[name].array(name)


def weights_path(spec: str, base_dir: Path | None) -> Path:
    """A weights file relative to the config's folder if it is there, else as given."""
    path = Path(spec)
    if not path.is_absolute() and base_dir is not None and (base_dir / path).is_file():
        return base_dir / path
    return path


def open_weights(spec: str, model: ModelShape, seed: int, *, file: str, field_path: str,
                 base_dir: Path | None = None) -> WeightSource:
    """`synthetic`, a .gguf / .safetensors file, or a Hugging Face model folder (its
    *.safetensors shards)."""
    if spec == SYNTHETIC:
        return SyntheticSource(seed)
    path = weights_path(spec, base_dir)
    if not path.exists():
        raise ConfigError(file, field_path, f"'synthetic', a .gguf / .safetensors file or a "
                          f"Hugging Face model folder expected; {spec!r} does not exist")
    if path.is_dir():
        shards = sorted(path.glob("*.safetensors"))
        if not shards:
            raise ConfigError(file, field_path, f"a model folder with *.safetensors files "
                              f"expected; {spec!r} has none")
        return FileSource(ShardedWeights([SafetensorsWeights(p, file=file,
                                                             field_path=field_path)
                                          for p in shards]), path, model)
    if path.suffix == ".gguf":
        return FileSource(GgufWeights(path, file=file, field_path=field_path), path, model)
    if path.suffix == ".safetensors":
        return FileSource(SafetensorsWeights(path, file=file, field_path=field_path), path,
                          model)
    raise ConfigError(file, field_path, f"a .gguf or .safetensors file expected, got {spec!r}")
