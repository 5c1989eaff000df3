"""From b-bit codes to c-bit cell levels and back: bit packing and binary / Gray level mapping.

Codes are packed into one bit stream, least significant bit first: bit k of code i is stream
bit i*b + k. Cell j holds stream bits j*c .. j*c + c - 1 (its pattern, lowest stream bit as the
pattern's LSB); the last cell is padded with zeros. With b = c every code has a cell of its own;
with 3-bit codes in 2-bit cells, cell 1 holds the MSB of code 0 and the LSB of code 1, so one
cell error can hit bits of two codes.

The mapping decides which level a pattern is programmed to: `binary` (level = pattern; a
one-level error changes the pattern by +-1, which may flip several bits) or `gray` (level l
stores pattern l ^ (l >> 1); a one-level error flips exactly one bit).
"""

from __future__ import annotations

import math
from itertools import product
from typing import Literal

import numpy as np

from qmcsim.errors import ConfigError, InternalError

Mapping = Literal["binary", "gray"]


def gray_encode(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    return x ^ (x >> 1)


def gray_decode(g: np.ndarray) -> np.ndarray:
    g = np.asarray(g, dtype=np.int64)
    out = g.copy()
    shift = g >> 1
    while np.any(shift):
        out ^= shift
        shift >>= 1
    return out


def pattern_to_level(pattern: np.ndarray, mapping: Mapping) -> np.ndarray:
    """The level a cell pattern is programmed to."""
    return np.asarray(pattern, np.int64) if mapping == "binary" else gray_decode(pattern)


def level_to_pattern(level: np.ndarray, mapping: Mapping) -> np.ndarray:
    return np.asarray(level, np.int64) if mapping == "binary" else gray_encode(level)


def n_cells(n_codes: int, code_bits: int, cell_bits: int) -> int:
    return math.ceil(n_codes * code_bits / cell_bits)


def codes_to_levels(codes: np.ndarray, code_bits: int, cell_bits: int,
                    mapping: Mapping = "binary") -> np.ndarray:
    """The cell levels that store the 1-D array `codes` (unsigned, < 2**code_bits)."""
    codes = np.asarray(codes, dtype=np.int64).ravel()
    if codes.size and (codes.min() < 0 or codes.max() >= 2**code_bits):
        raise InternalError(f"codes must lie in [0, {2**code_bits}) for {code_bits}-bit codes")
    if code_bits == cell_bits:
        return pattern_to_level(codes, mapping)
    bits = ((codes[:, None] >> np.arange(code_bits)) & 1).astype(np.uint8).ravel()
    cells = n_cells(codes.size, code_bits, cell_bits)
    bits = np.concatenate((bits, np.zeros(cells * cell_bits - bits.size, np.uint8)))
    weights = (1 << np.arange(cell_bits)).astype(np.int64)
    patterns = bits.reshape(cells, cell_bits).astype(np.int64) @ weights
    return pattern_to_level(patterns, mapping)


def levels_to_codes(levels: np.ndarray, n_codes: int, code_bits: int, cell_bits: int,
                    mapping: Mapping = "binary") -> np.ndarray:
    """Inverse of codes_to_levels: the `n_codes` codes read back from cell `levels`."""
    patterns = level_to_pattern(np.asarray(levels, np.int64).ravel(), mapping)
    if code_bits == cell_bits:
        return patterns[:n_codes]
    bits = ((patterns[:, None] >> np.arange(cell_bits)) & 1).ravel()[: n_codes * code_bits]
    weights = (1 << np.arange(code_bits)).astype(np.int64)
    return bits.reshape(n_codes, code_bits) @ weights


def code_error_table(confusion: np.ndarray, code_bits: int, cell_bits: int,
                     mapping: Mapping = "binary") -> np.ndarray:
    """Per combination of the codes of one packing period (lcm(b, c) bits; an array indexed
    by those codes), the expected sum of squared code errors, in code steps (Delta^2), over the
    period's cells erring one at a time (independent cells; cross terms between two erring
    cells, second order in the error rate, are left out)."""
    confusion = np.asarray(confusion, dtype=float)
    levels = 2**cell_bits
    if confusion.shape != (levels, levels):
        raise InternalError(f"confusion must be {levels} x {levels}")
    period = math.lcm(code_bits, cell_bits)
    k_codes, k_cells = period // code_bits, period // cell_bits
    if (2**code_bits) ** k_codes > 1 << 16:
        raise ConfigError("<noise model>", "code_bits", f"{code_bits}-bit codes in "
                          f"{cell_bits}-bit cells: a packing period of {k_codes} codes is too "
                          "long for the error table (at most 2**16 code combinations)")
    table = np.zeros((2**code_bits,) * k_codes)
    for combo in product(range(2**code_bits), repeat=k_codes):
        codes = np.array(combo)
        cell_levels = codes_to_levels(codes, code_bits, cell_bits, mapping)
        total = 0.0
        for j in range(k_cells):
            row = confusion[cell_levels[j]]
            for read in np.nonzero(row)[0]:
                if read == cell_levels[j]:
                    continue
                erred = cell_levels.copy()
                erred[j] = read
                back = levels_to_codes(erred, k_codes, code_bits, cell_bits, mapping)
                total += row[read] * float(np.sum((back - codes) ** 2))
        table[combo] = total
    return table


def expected_sq_code_error(table: np.ndarray, code_probs: np.ndarray | None = None) -> float:
    """Analytic E[(c_read - c)^2] per code, in code steps (Delta^2), for codes drawn
    independently from `code_probs` (default uniform), from a code_error_table.

    With one code per cell, binary mapping and only one-level errors this is
    sum_l P(l) (p-_l + p+_l), the noise term of the QMC study's Algorithm 1."""
    n = table.shape[0]
    probs = (np.full(n, 1.0 / n) if code_probs is None
             else np.asarray(code_probs, dtype=float) / np.sum(code_probs))
    out = table
    for _ in range(table.ndim):
        out = np.tensordot(out, probs, axes=([0], [0]))
    return float(out) / table.ndim
