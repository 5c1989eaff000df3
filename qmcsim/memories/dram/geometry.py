"""Fast mode's address geometry: a request's row segments (the bursts sharing channel, bank and
row) and what serving it needs from them. It depends on the addresses only, so it is built once
per distinct request and shared by every memory of the same mapping in the process.

Three forms, all exact (tests/dram/test_fast_geometry.py serves each against the others):
- every segment (`Segments`): short requests, or controllers the boundary count does not fit;
- each bank's first and last segment plus every segment's sorted span (`Geometry.span_*`), for
  counting row outcomes per refresh boundary instead of per segment (`FastChannels`);
- the same for long requests without enumerating them: with the row the most significant
  level of the mapping, a block of bursts sharing everything above the column (a "block")
  repeats its bank and channel pattern every `period` blocks, so the first `period + 2` and
  last `period + 2` blocks hold every bank's first and last segment and every kind of gap,
  and the blocks between are all full: one in-block table per channel gives how many of a
  block's segments span a position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qmcsim.errors import InternalError
from qmcsim.memories.dram.mapping import AddressMapping

CAL_TURN_MAX_LOG2 = 11  # direction-switch costs for 1, 2, 4, ... 2048 bursts
GEOMETRY_CACHE_SEGMENTS = 4_000_000  # memoised row segments per process (~31 bytes each)
SPANS_MIN_SEGMENTS = 256  # shorter requests keep every segment
SPAN = 1 << 40  # channel stride of the sorted segment positions


@dataclass(frozen=True, kw_only=True)
class Segments:
    """Every row segment of a request, in (channel, bank), position order."""

    ch: np.ndarray
    bank: np.ndarray
    row: np.ndarray
    prev_row: np.ndarray  # row of the previous segment (meaningful inside a bank group)
    pos_first: np.ndarray  # position of the first / last burst within its channel's share
    pos_last: np.ndarray
    new_group: np.ndarray  # first segment of its bank
    last_of: np.ndarray  # last segment of its bank
    head: np.ndarray  # the channel's first burst


@dataclass(frozen=True, kw_only=True)
class Middle:
    """The full blocks between the two enumerated ends of a long request."""

    start: np.ndarray  # per channel: its positions [start, end) lie in these blocks
    end: np.ndarray
    inside: np.ndarray  # [channel, in-block position]: segments with first < position <= last


@dataclass(frozen=True, kw_only=True)
class Geometry:
    """What serving a request needs of its segments.

    Every segment after the first of its bank opens a new row of that bank (the segments of a
    request have distinct (channel, bank, row)), so it conflicts, or misses if a refresh closed
    the bank in the gap before it: with `segments` None, outcomes are counted from each bank's
    first and last segment and the refresh boundaries (`FastChannels`)."""

    n_ch: np.ndarray  # bursts per channel
    base: np.ndarray  # per channel: its bursts before the request's first
    bursts: int
    n_segments: int
    active: np.ndarray  # channels touched
    chans: np.ndarray  # their indices
    last_index: np.ndarray  # their last burst's position (n_ch - 1)
    mask: int  # their bit mask
    multi: np.ndarray  # channels with more than one burst
    turn_k: np.ndarray  # direction-switch table index: log2(bursts), capped
    # each bank's first and last segment, in bank-key (channel x banks + bank) order
    starts: np.ndarray
    ends: np.ndarray
    first_ch: np.ndarray
    first_row: np.ndarray
    first_pos: np.ndarray
    last_ch: np.ndarray
    last_rows: np.ndarray
    last_pos: np.ndarray
    head_of_first: np.ndarray  # which first segments hold their channel's first burst
    head_ch: np.ndarray  # channel of each head segment
    max_gap: int  # most positions between two consecutive segments of a bank (-1: none)
    # sorted channel x SPAN + first / last position of the enumerated segments (not `segments`)
    span_first: np.ndarray | None
    span_last: np.ndarray | None
    middle: Middle | None  # long requests: the blocks not enumerated
    segments: Segments | None  # every segment (short requests, or no boundary counting)


class ChannelBits:
    """Where the channel and column fields sit in a burst index, and the arithmetic on them."""

    def __init__(self, mapping: AddressMapping) -> None:
        self.mapping = mapping
        self.n_ch = mapping.channels
        self.n_banks = mapping.org.banks
        pos, where = 0, {}
        widths = mapping.widths
        for level in reversed(mapping.order):
            where[level] = (pos, widths[level])
            pos += widths[level]
        self.co_lsb, self.co_w = where["Co"]
        self.ch_lsb, self.ch_w = where["Ch"]
        self.block_bits = self.co_lsb + self.co_w
        above = mapping.order[:mapping.order.index("Co")]
        # row on top: the bank and channel pattern of blocks repeats every `period` blocks
        self.period = (1 << sum(widths[v] for v in above if v != "Ro")
                       if mapping.order[0] == "Ro" else 0)

    def count_before(self, x: int) -> np.ndarray:
        """Per channel: bursts j in [0, x) of that channel."""
        return self.count_before_in(np.full(self.n_ch, x, dtype=np.int64),
                                    np.arange(self.n_ch))

    def count_before_in(self, x: np.ndarray, ch: np.ndarray) -> np.ndarray:
        """Bursts j in [0, x) of channel ch (elementwise)."""
        lsb, w = self.ch_lsb, self.ch_w
        full = (x >> (lsb + w)) << lsb
        mid = (x >> lsb) & ((1 << w) - 1)
        low = x & ((1 << lsb) - 1)
        return full + np.where(mid > ch, 1 << lsb, np.where(mid == ch, low, 0))

    def compress(self, i: np.ndarray) -> np.ndarray:
        """Index of burst i among the bursts of its channel."""
        lsb, w = self.ch_lsb, self.ch_w
        return ((i >> (lsb + w)) << lsb) | (i & ((1 << lsb) - 1))

    def expand(self, j: np.ndarray, ch: np.ndarray) -> np.ndarray:
        """The burst index of the j-th burst of channel ch (inverse of `compress`)."""
        lsb, w = self.ch_lsb, self.ch_w
        return ((j >> lsb) << (lsb + w)) | (ch << lsb) | (j & ((1 << lsb) - 1))

    def segments(self, f: int, last: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row segments of bursts [f, last] in address order: first and last burst index,
        burst count."""
        p, w = self.co_lsb, self.co_w
        b = p + w
        his = np.arange(f >> b, (last >> b) + 1, dtype=np.int64)
        los = np.arange(1 << p, dtype=np.int64)
        hi = np.repeat(his, len(los))
        lo = np.tile(los, len(his))
        co_f, lo_f = (f >> p) & ((1 << w) - 1), f & ((1 << p) - 1)
        co_l, lo_l = (last >> p) & ((1 << w) - 1), last & ((1 << p) - 1)
        co_min = np.where(hi == his[0], co_f + (lo < lo_f), 0)
        co_max = np.where(hi == his[-1], co_l - (lo > lo_l), (1 << w) - 1)
        ok = co_min <= co_max
        hi, lo, co_min, co_max = hi[ok], lo[ok], co_min[ok], co_max[ok]
        first = (hi << b) | (co_min << p) | lo
        lastb = (hi << b) | (co_max << p) | lo
        return first, lastb, co_max - co_min + 1


def build(bits: ChannelBits, f: int, last: int, spans: bool) -> Geometry:
    """The geometry of bursts [f, last]: with `spans`, long requests keep spans (and long
    enough ones a middle) instead of every segment."""
    b, period = bits.block_bits, bits.period
    if spans and period and (last >> b) - (f >> b) >= 2 * period + 6:
        return _build_long(bits, f, last)
    first, lastb, nb = bits.segments(f, last)
    seg = _Enumerated(bits, f, first, lastb)
    keep_spans = spans and len(first) >= SPANS_MIN_SEGMENTS
    return seg.geometry(bits, f, last, int(nb.sum()), len(first),
                        seg.max_gap(), middle=None, keep_spans=keep_spans)


class _Enumerated:
    """Segments in address order with their channel, bank, row and positions, and the
    (channel, bank), position order."""

    def __init__(self, bits: ChannelBits, f: int, first: np.ndarray, lastb: np.ndarray
                 ) -> None:
        bb = bits.mapping.org.burst_bytes
        ch, bank, row, _ = bits.mapping.decode(first * bb)
        base = bits.count_before(f)
        self.ch, self.bank, self.row = ch, bank, row
        self.pos_first = bits.compress(first) - base[ch]
        self.pos_last = bits.compress(lastb) - base[ch]
        key = ch * bits.n_banks + bank
        # segments come in address order, so within a channel in position order: a stable
        # sort by bank key alone (radix sort for 16-bit keys) gives (bank, position) order
        kdt = np.int16 if bits.n_ch * bits.n_banks < 2**15 else np.int64
        self.srt = np.argsort(key.astype(kdt), kind="stable")
        self.key_s = key[self.srt]
        self.new_group = np.ones(len(key), dtype=bool)
        self.new_group[1:] = self.key_s[1:] != self.key_s[:-1]
        self.last_of = np.ones(len(key), dtype=bool)
        self.last_of[:-1] = self.key_s[1:] != self.key_s[:-1]

    def max_gap(self) -> int:
        inner = ~self.new_group[1:]
        gaps = self.pos_first[self.srt][1:][inner] - self.pos_last[self.srt][:-1][inner]
        return int(gaps.max()) if len(gaps) else -1

    def spans(self) -> tuple[np.ndarray, np.ndarray]:
        # sorted: in a partial first or last block, the segments' first (last) bursts are not
        # in address order
        off = self.ch.astype(np.int64) * SPAN
        return np.sort(off + self.pos_first), np.sort(off + self.pos_last)

    def geometry(self, bits: ChannelBits, f: int, last: int, bursts: int, n_segments: int,
                 max_gap: int, middle: Middle | None, keep_spans: bool,
                 firsts: _Enumerated | None = None) -> Geometry:
        """`firsts`: where each bank's first segment is (default: here)."""
        fs = firsts or self
        base = bits.count_before(f)
        n_ch = bits.count_before(last + 1) - base
        active = n_ch > 0
        i32 = np.int32  # compact: the cache holds a whole decode step's segments
        ch_s = self.ch[self.srt].astype(i32)
        row_s = self.row[self.srt].astype(i32)
        pos_first_s = self.pos_first[self.srt]
        fch = fs.ch[fs.srt][fs.new_group].astype(i32)
        fpos = fs.pos_first[fs.srt][fs.new_group]
        head = fpos == 0
        segments = None
        span_first = span_last = None
        if keep_spans:
            span_first, span_last = self.spans()
        else:
            prev_row = np.empty_like(row_s)
            prev_row[1:] = row_s[:-1]
            segments = Segments(ch=ch_s, bank=self.bank[self.srt].astype(i32), row=row_s,
                                prev_row=prev_row, pos_first=pos_first_s.astype(i32),
                                pos_last=self.pos_last[self.srt].astype(i32),
                                new_group=self.new_group, last_of=self.last_of,
                                head=pos_first_s == 0)
        return Geometry(
            n_ch=n_ch, base=base, bursts=bursts, n_segments=n_segments, active=active,
            chans=np.flatnonzero(active), last_index=n_ch[active] - 1,
            mask=int((active.astype(np.int64) << np.arange(bits.n_ch)).sum()),
            multi=n_ch > 1,
            turn_k=np.minimum(np.log2(np.maximum(n_ch, 1)).astype(np.int64),
                              CAL_TURN_MAX_LOG2),
            starts=fs.key_s[fs.new_group], ends=self.key_s[self.last_of], first_ch=fch,
            first_row=fs.row[fs.srt][fs.new_group].astype(i32), first_pos=fpos,
            last_ch=ch_s[self.last_of], last_rows=row_s[self.last_of],
            last_pos=self.pos_last[self.srt][self.last_of], head_of_first=head,
            head_ch=fch[head], max_gap=max_gap, span_first=span_first, span_last=span_last,
            middle=middle, segments=segments)


def _build_long(bits: ChannelBits, f: int, last: int) -> Geometry:
    """A long request from its first and last `period + 2` blocks (every bank's first and
    last segment, and a gap between two full blocks) and an in-block table for the rest."""
    b, period = bits.block_bits, bits.period
    hi_f, hi_l = f >> b, last >> b
    head_end = ((hi_f + period + 2) << b) - 1
    tail_start = (hi_l - period - 1) << b
    h_first, h_last, h_nb = bits.segments(f, head_end)
    t_first, t_last, t_nb = bits.segments(tail_start, last)
    head = _Enumerated(bits, f, h_first, h_last)
    ends = _Enumerated(bits, f, np.concatenate([h_first, t_first]),
                       np.concatenate([h_last, t_last]))
    mid_lo, mid_hi = hi_f + period + 2, hi_l - period - 2
    n_mid = mid_hi - mid_lo + 1
    tail = _Enumerated(bits, f, t_first, t_last)
    max_gap = max(head.max_gap(), tail.max_gap())
    base = bits.count_before(f)
    middle = Middle(start=bits.count_before(mid_lo << b) - base,
                    end=bits.count_before((mid_hi + 1) << b) - base,
                    inside=_inside_table(bits, f, head, hi_f + 1, hi_f + period))
    n_segments = len(h_first) + len(t_first) + n_mid * (1 << bits.co_lsb)
    return ends.geometry(bits, f, last, last - f + 1, n_segments, max_gap, middle,
                         keep_spans=True, firsts=head)


def _inside_table(bits: ChannelBits, f: int, seg: _Enumerated, lo: int, hi: int
                  ) -> np.ndarray:
    """[channel, position within a full block of that channel]: how many of the block's
    segments have first < position <= last (full blocks of a channel all look alike). Blocks
    lo..hi are full and hold every channel."""
    base = bits.count_before(f)
    block = (bits.expand(seg.pos_first + base[seg.ch], seg.ch)) >> bits.block_bits
    length = (1 << bits.block_bits) >> (bits.ch_w if bits.ch_lsb < bits.co_lsb else 0)
    mine = (block >= lo) & (block <= hi)
    first_block = np.full(bits.n_ch, hi + 1, dtype=np.int64)   # each channel's first there
    np.minimum.at(first_block, seg.ch[mine], block[mine])
    one = mine & (block == first_block[seg.ch])
    ch = seg.ch[one]
    start = bits.count_before_in(first_block[ch] << bits.block_bits, ch) - base[ch]
    table = np.zeros((bits.n_ch, length + 1), dtype=np.int64)
    np.add.at(table, (ch, seg.pos_first[one] - start + 1), 1)
    np.add.at(table, (ch, seg.pos_last[one] - start + 1), -1)
    return np.cumsum(table, axis=1)[:, :length]


def count_inside(bits: ChannelBits, g: Geometry, ch: np.ndarray, pos: np.ndarray) -> int:
    """Sum over the positions `pos` of channel `ch` (elementwise) of the request's segments
    with first < position <= last."""
    if g.span_first is None or g.span_last is None:
        raise InternalError("fast mode: boundaries counted on a geometry without spans")
    q = ch * SPAN + pos
    n = int(np.searchsorted(g.span_first, q).sum() - np.searchsorted(g.span_last, q).sum())
    m = g.middle
    if m is None:
        return n
    # a channel's positions in full blocks: the in-block position is the low bits of its
    # compressed burst index (the table's length is a power of two)
    offset = (pos + g.base[ch]) & (m.inside.shape[1] - 1)
    in_mid = (pos >= m.start[ch]) & (pos < m.end[ch])
    return n + int(np.where(in_mid, m.inside[ch, offset], 0).sum())


class GeometryCache:
    """Geometries of requests, per address mapping, shared by every memory of that mapping
    in the process: a geometry depends on the addresses only, so the systems of a run and the
    points of a sweep that put the same traffic at the same addresses (the KV cache of systems
    with the same weights elsewhere, the cold start's load) build it once. Bounded by the
    segments held (enumerated ones): emptied when full."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0  # segments held
        self.tables: dict[AddressMapping, dict[tuple[int, int], Geometry]] = {}

    def table(self, mapping: AddressMapping) -> dict[tuple[int, int], Geometry]:
        return self.tables.setdefault(mapping, {})

    def add(self, table: dict[tuple[int, int], Geometry], key: tuple[int, int],
            geo: Geometry) -> None:
        n = held_segments(geo)
        if n > self.limit:
            return
        if self.held + n > self.limit:
            for t in list(self.tables.values()):
                t.clear()
            self.held = 0
        table[key] = geo
        self.held += n


def held_segments(geo: Geometry) -> int:
    """Segments a geometry holds arrays for."""
    if geo.span_first is not None:
        return len(geo.span_first)
    return geo.n_segments


GEOMETRIES = GeometryCache(GEOMETRY_CACHE_SEGMENTS)
