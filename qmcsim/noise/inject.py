"""Seeded Monte-Carlo injection of device errors into stored integer codes.

What a device does to what it stores is the technology's answer (`Memory.noise_model`, found
through the memory registry by the preset's `kind:`), one of two kinds of model:
- `LevelNoise` (multi-level cells, e.g. MLC ReRAM): codes are bit-packed into cells
  (qmcsim.noise.mapping), each cell reads back a level drawn from its level model (programming
  spread, read noise, drift, stuck cells; qmcsim.noise.levels), and the codes are unpacked.
- `BitFlipNoise` (e.g. MRAM, Flash): every stored bit flips independently with the device's
  bit error rate.
- None: the memory stores without error here (e.g. SRAM, DRAM).

One evaluation sees one read-out of every weight (a snapshot: read noise drawn once). Every
random draw comes from the numpy Generator passed in; callers seed it from the config's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qmcsim.errors import InternalError
from qmcsim.memories.base import DeviceParams
from qmcsim.noise.levels import LevelModel
from qmcsim.noise.mapping import Mapping, codes_to_levels, levels_to_codes


@dataclass(frozen=True, kw_only=True)
class LevelNoise:
    """Codes stored in multi-level cells."""

    model: LevelModel
    mapping: Mapping = "binary"

    @property
    def cell_bits(self) -> int:
        return self.model.bits_per_cell


@dataclass(frozen=True, kw_only=True)
class BitFlipNoise:
    """Every stored bit flips independently with probability `bit_error_rate`."""

    bit_error_rate: float


NoiseModel = LevelNoise | BitFlipNoise


def noise_of_device(params: DeviceParams, *, mapping: Mapping = "binary",
                    read_time_s: float | None = None) -> NoiseModel | None:
    """The error model of a device preset (its technology's answer), or None when it stores
    without error."""
    from qmcsim.memories.base import technology_of

    return technology_of(params).noise_model(params, mapping=mapping, read_time_s=read_time_s)


def flip_bits(codes: np.ndarray, code_bits: int, bit_error_rate: float,
              rng: np.random.Generator) -> np.ndarray:
    """A copy of the unsigned integer `codes` with each of their low `code_bits` bits flipped
    independently with probability `bit_error_rate`."""
    if not 0 <= bit_error_rate <= 1:
        raise InternalError(f"bit_error_rate must be in [0, 1], got {bit_error_rate}")
    out = np.array(codes, copy=True)
    flat = out.reshape(-1)
    total = flat.size * code_bits
    k = int(rng.binomial(total, bit_error_rate)) if total else 0
    if k:
        pos = rng.choice(total, size=k, replace=False)
        masks = (np.int64(1) << (pos % code_bits)).astype(flat.dtype)
        np.bitwise_xor.at(flat, pos // code_bits, masks)
    return out


def perturb_codes(codes: np.ndarray, code_bits: int, noise: NoiseModel | None,
                  rng: np.random.Generator) -> np.ndarray:
    """The codes read back from a device with `noise`; same shape and dtype as `codes`
    (unsigned values below 2**code_bits; flattened in C order for packing)."""
    codes = np.asarray(codes)
    if noise is None or codes.size == 0:
        return codes.copy()
    if isinstance(noise, BitFlipNoise):
        return flip_bits(codes, code_bits, noise.bit_error_rate, rng)
    flat = codes.reshape(-1).astype(np.int64)
    levels = codes_to_levels(flat, code_bits, noise.cell_bits, noise.mapping)
    read = noise.model.sample_read(levels, rng)
    back = levels_to_codes(read, flat.size, code_bits, noise.cell_bits, noise.mapping)
    return back.reshape(codes.shape).astype(codes.dtype)


def perturb_fp16(values: np.ndarray, noise: NoiseModel | None,
                 rng: np.random.Generator) -> np.ndarray:
    """FP16 values stored on a device with `noise`: its errors act on their 16-bit patterns."""
    v = np.asarray(values, dtype=np.float16)
    bits = v.view(np.uint16).astype(np.int64)
    return perturb_codes(bits, 16, noise, rng).astype(np.uint16).view(np.float16)
