"""A bit stream stored in the cells of a chip, read back at a supply voltage.

The memory knows no network and no quantization: it stores the low
``word_bits`` bits of each word of an unsigned integer array, as one stream
(stream bit ``k * word_bits + j`` is bit ``j``, LSB = 0, of word ``k``), and
lays the stream into the cells of a profile's chip:

- a measured (``cells``) profile places stream bit ``b`` in cell
  ``(offset(chip) + b) mod n_cells`` with ``offset(chip) = chip * n_bits mod
  n_cells``; a stream longer than the chip wraps around (the chip is *tiled*,
  the same fault map repeats, and results say so);
- a generated profile places stream bit ``b`` in cell ``b`` of a fresh draw of
  chip ``chip``, with as many arrays as the stream needs.

Reads follow the fault semantics of ``DESIGN.md``. The footprint's faulty
cells are sorted once per chip by descending fail voltage, so the cells
faulty at any voltage are a prefix of that order: a read costs work
proportional to the faulty cells, not to the stored bits (a persistent read
buffer moves from the previous read's faults to the new ones, with no copy
of the words unless a caller still holds the previous result).
"""

import math
import numbers
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from accelsim._checks import Interval, check
from accelsim._errors import UserInputError
from accelsim.sram import _kernels, _small
from accelsim.sram._budget import check_placement_budget

if TYPE_CHECKING:
    from accelsim.sram.profile import Profile

__all__ = ["SimulatedMemory", "Placement", "ReadResult", "SparseRead", "ChangedWords", "SimulatedMemoryError"]


MAX_CACHED_PLACEMENTS = 64
# Cached placements hold at most this many cells in all (about 1.6 GB with
# their word orders) beyond the newest one: a model of 10^8 words swept over
# many chips keeps one or two chips, not 64.
MAX_CACHED_CELLS = 1 << 25
# A chip drawn for at least this many stored bits is not kept by the profile
# once placed (the placement holds what reads need).
_UNCACHED_DRAW_BITS = 1 << 28
# References to the read buffer when nobody else holds it: the attribute and
# getrefcount's own argument. A result's words (a view) add one.
_UNSHARED_REFCOUNT = 2


class SimulatedMemoryError(UserInputError):
    """Stored words, a chip number, a seed or a voltage a memory cannot accept."""


@dataclass(frozen=True, eq=False)
class Placement:
    """The footprint's faulty cells of one chip, in the order they fail.

    All arrays are read-only and have one entry per stream bit that sits on a
    cell failing at or above the profile's floor (a cell of a tiled chip holds
    several stream bits and appears once per bit), sorted by descending fail
    voltage, ties by stream position. A chip at its floor can have millions of
    faulty cells, so only what reads need is kept.

    Attributes
    ----------
    fault_bits : ndarray of int64
        Stream position of the bit the cell holds.
    word_index : ndarray of int32 or int64
        Word holding that bit (``fault_bits // word_bits``); int32 when the
        words allow it, to halve its memory.
    bit_in_word : ndarray of uint8
        Position of the bit in its word, LSB = 0 (``fault_bits % word_bits``).
    neg_v_fail_v : ndarray of float64
        Minus the fail voltage of the cell, in volts (ascending, so that
        ``searchsorted`` finds the faulty prefix).
    fault_kind : ndarray of uint8
        0 stuck-at-0, 1 stuck-at-1, 2 flip.
    errs : ndarray of bool
        Whether the cell errs when faulty, drawn once from (seed, chip, cell).
    tiled : bool
        Whether the stream is longer than the chip, so that cells repeat.
    vdd_lowest_v : float
        The cells are complete down to this voltage (``-inf``: the floor);
        a read below it places the chip again, deeper.
    """

    fault_bits: np.ndarray
    word_index: np.ndarray
    bit_in_word: np.ndarray
    neg_v_fail_v: np.ndarray
    fault_kind: np.ndarray
    errs: np.ndarray
    tiled: bool
    vdd_lowest_v: float = -math.inf

    def __post_init__(self):
        for name in ("fault_bits", "word_index", "bit_in_word", "neg_v_fail_v", "fault_kind",
                     "errs"):
            getattr(self, name).setflags(write=False)

    def __len__(self):
        return len(self.fault_bits)

    @property
    def v_fail_v(self):
        """Fail voltages in volts, non-increasing (a new array on each access)."""
        return -self.neg_v_fail_v

    def n_faulty(self, vdd_v):
        """Number of leading entries faulty at ``vdd_v`` (``V <= v_fail_v``).

        An ``int`` for a scalar ``vdd_v``, else an int64 array of its shape.
        """
        if isinstance(vdd_v, float):  # the per-read case, kept free of array checks
            return int(self.neg_v_fail_v.searchsorted(-vdd_v, side="right"))
        count = np.searchsorted(self.neg_v_fail_v, -np.asarray(vdd_v, np.float64),
                                side="right")
        return int(count) if np.ndim(count) == 0 else count.astype(np.int64)


@dataclass(frozen=True, eq=False)
class ReadResult:
    """The stored words as read at one voltage.

    Attributes
    ----------
    words : ndarray
        The stored words with the faults applied: a read-only array that
        never changes (the memory reads on into a new buffer while any
        earlier result's words are referenced); ``copy()`` it to modify.
    faulty_cells : int
        Stream bits sitting on cells faulty at this voltage (each a cell of
        the footprint; on a tiled chip a cell counts once per bit it holds).
    flipped_bits : int
        Bits whose read value differs from the stored one.
    fault_bits : ndarray of int64
        Read-only stream positions of the faulty cells, in placement order.
    tiled : bool
        Whether the stream is longer than the chip, so that cells repeat.
    """

    words: np.ndarray
    faulty_cells: int
    flipped_bits: int
    fault_bits: np.ndarray
    tiled: bool


@dataclass(frozen=True, eq=False)
class SparseRead:
    """The words that differ from storage at one voltage, without a full copy.

    Attributes
    ----------
    word_index : ndarray of int64 or int32
        Word of each faulty cell, in placement order (a word holding several
        faulty cells repeats; the read-only arrays are views).
    words : ndarray
        The value read from ``word_index[i]`` (the same for repeats).
    faulty_cells, flipped_bits, fault_bits, tiled
        As in :class:`ReadResult`.
    """

    word_index: np.ndarray
    words: np.ndarray
    faulty_cells: int
    flipped_bits: int
    fault_bits: np.ndarray
    tiled: bool


@dataclass(frozen=True, eq=False)
class ChangedWords:
    """The words a read changes, each once, with their read values (no copy of the stored words).

    Attributes
    ----------
    word_index : ndarray of int64
        Words whose read value differs from the stored one, ascending.
    words : ndarray
        Their read values (the stored dtype).
    faulty_cells, flipped_bits, tiled
        As in :class:`ReadResult`.
    """

    word_index: np.ndarray
    words: np.ndarray
    faulty_cells: int
    flipped_bits: int
    tiled: bool


class SimulatedMemory:
    """Words stored in a profile's chip, read back with the faults of a voltage.

    Parameters
    ----------
    profile : Profile
        The chip model (``kind`` ``"cells"`` or ``"generated"``).
    words : ndarray
        1-D array of an unsigned integer dtype; its low ``word_bits`` bits
        are stored. The memory keeps its own read-only copy.
    word_bits : int
        Bits stored per word, 1 to the bit width of the dtype.
    seed : int, default 0
        Seed of the draw that decides which intermittent cells err.

    Raises
    ------
    SimulatedMemoryError
        If ``words`` is not a non-empty 1-D unsigned integer array, if
        ``word_bits`` is out of range, if a word does not fit in ``word_bits``
        bits, or if ``seed`` is not a non-negative integer.

    Examples
    --------
    >>> from accelsim.sram import uniform_profile
    >>> mem = SimulatedMemory(uniform_profile(1e-2), np.arange(256, dtype=np.uint8), 8)
    >>> result = mem.read(mem.profile.voltage_for_ber(1e-3), chip=0)
    >>> result.words.dtype, result.flipped_bits <= result.faulty_cells
    (dtype('uint8'), True)
    """

    def __init__(self, profile: "Profile", words: np.ndarray, word_bits: int, *, seed: int = 0) -> None:
        self._words = _validated_words(words, word_bits)
        self._word_bits = int(word_bits)
        self._seed = _validated_count("seed", seed, upper=2**64)
        self._profile = profile
        # Read once: attribute access on a profile is slower than a read of
        # few faulty cells should be.
        self._vdd_range_v = (float(profile.vdd_floor_v), float(profile.vdd_nominal_v))
        self._placements: dict = {}
        self._word_orders: dict = {}  # chip -> (placement, its cells' arrays in word order)
        self._scratch = None
        self._vdd_lowest_v = None
        self._buffer = None  # the words as last read (see _read_into_buffer)
        self._buffer_state = (None, 0, 0)  # placement, cells applied, bits flipped

    @property
    def profile(self):
        """The chip model the words are stored in."""
        return self._profile

    @property
    def words(self):
        """The stored words (read-only)."""
        return self._words

    @property
    def word_bits(self):
        """Bits stored per word."""
        return self._word_bits

    @property
    def seed(self):
        """Seed of the draw of erring intermittent cells."""
        return self._seed

    @property
    def n_bits(self):
        """Number of stored bits: words times ``word_bits``."""
        return self._words.size * self._word_bits

    stored_bits = n_bits

    @property
    def tiled(self):
        """Whether the stream is longer than a measured chip (its map repeats)."""
        return self._profile.kind == "cells" and self.n_bits > self._profile.n_cells

    def plan_voltages(self, vdd_lowest_v):
        """Place chips only down to ``vdd_lowest_v`` (the lowest voltage that will be read).

        Memory then follows the faults at the voltages asked for, not at the
        floor, where a chip can have a third of its cells faulty. A read
        below the plan still works: it places the chip again, deeper. The
        faults at every voltage are the same as with a full placement.
        """
        self._vdd_lowest_v = self._checked_voltage(vdd_lowest_v)
        return self

    def placement(self, chip=0, vdd_lowest_v=None):
        """The footprint's faulty cells on ``chip``, sorted by descending fail voltage.

        Computed on the first call for a chip and cached (the last
        ``MAX_CACHED_PLACEMENTS`` chips).

        Parameters
        ----------
        chip : int, default 0
            Chip number: a fresh draw of a generated profile, or a placement
            offset in a measured one.

        Returns
        -------
        Placement
        """
        chip = _validated_count("chip", chip, upper=2**63)
        if vdd_lowest_v is None:
            vdd_lowest_v = self._vdd_lowest_v
        known = self._placements.get(chip)
        if known is None or (known.vdd_lowest_v > (-math.inf if vdd_lowest_v is None else vdd_lowest_v)):
            if self._profile.kind != "cells":  # refused before any work (a measured chip is the profile's)
                check_placement_budget(self._profile, self.n_bits, vdd_lowest_v, self._words.nbytes)
            self._forget(chip)  # a deeper placement replaces it (dropped first: not both in memory)
            placement = self._place(chip, vdd_lowest_v)
            # Training draws a fresh chip per step, and a large model's chips are large: keep
            # the cache bounded in chips and in cells.
            while self._placements and (len(self._placements) >= MAX_CACHED_PLACEMENTS or sum(
                    len(p) for p in self._placements.values()) + len(placement) > MAX_CACHED_CELLS):
                self._forget(next(iter(self._placements)))
            self._placements[chip] = placement
        return self._placements[chip]

    def _forget(self, chip):
        self._placements.pop(chip, None)
        self._word_orders.pop(chip, None)

    def _placement_for(self, chip: int, vdd_v: float) -> Placement:
        placement = self._placements.get(chip) if type(chip) is int else None
        if placement is None or placement.vdd_lowest_v > vdd_v:
            # First read of this chip (placed down to the plan, or to this
            # voltage when there is none) or a read below the plan.
            lowest = vdd_v if self._vdd_lowest_v is None else min(self._vdd_lowest_v, vdd_v)
            placement = self.placement(chip, lowest)
        return placement

    def faulty_cells(self, vdd_v: float, chip: int = 0) -> int:
        """Number of footprint cells faulty at ``vdd_v`` on ``chip``.

        Never decreases as the voltage drops. Raises ``ProfileError`` if
        ``vdd_v`` lies outside the profile's ``[vdd_floor_v, vdd_nominal_v]``.
        """
        vdd_v = self._checked_voltage(vdd_v)
        return self._placement_for(chip, vdd_v).n_faulty(vdd_v)

    def read(self, vdd_v, chip=0):
        """Read the stored words at supply ``vdd_v`` on ``chip``.

        Parameters
        ----------
        vdd_v : float
            Supply voltage in volts, within the profile's
            ``[vdd_floor_v, vdd_nominal_v]``.
        chip : int, default 0
            Chip number (see :meth:`placement`).

        Returns
        -------
        ReadResult

        Raises
        ------
        ProfileError
            If ``vdd_v`` lies outside the profile's voltage range.
        SimulatedMemoryError
            If ``vdd_v`` is not a real number or ``chip`` not a non-negative
            integer.
        """
        vdd_v = self._checked_voltage(vdd_v)
        placement = self._placement_for(chip, vdd_v)
        words, n_faulty, flipped = self._read_into_buffer(placement, vdd_v)
        return ReadResult(words=words, faulty_cells=int(n_faulty), flipped_bits=int(flipped),
                          fault_bits=placement.fault_bits[:n_faulty], tiled=placement.tiled)

    def _read_into_buffer(self, placement, vdd_v):
        """The words at ``vdd_v`` in the persistent read buffer, as a read-only view.

        The buffer keeps the previous read's faults: a read on the same chip
        applies or undoes only the cells between the two faulty prefixes
        (nested faults), another chip restores the previous chip's words
        first, so no read copies the whole words. A buffer that a caller
        still references (an earlier result's words, or a view of them) is
        never changed: the read then continues on a copy of it.
        """
        if self._buffer is None:
            self._buffer = self._words.copy()
        elif sys.getrefcount(self._buffer) > _UNSHARED_REFCOUNT:
            self._buffer = self._buffer.copy()
        owner, applied, flipped = self._buffer_state
        if owner is not placement:
            if owner is not None:
                _kernels.restore_words(self._buffer, self._words, applied, owner.word_index)
            applied, flipped = 0, 0
        n_faulty, delta = _kernels.read_delta(
            self._words, self._buffer, applied, placement.neg_v_fail_v, -vdd_v, placement.word_index,
            placement.bit_in_word, placement.fault_kind, placement.errs)
        flipped += int(delta)
        self._buffer_state = (placement, int(n_faulty), flipped)
        words = self._buffer.view()
        words.setflags(write=False)
        return words, n_faulty, flipped

    def read_once(self, vdd_v, chip=0):
        """Read at ``vdd_v`` like :meth:`read`, for a chip read only this once.

        Training reads each fresh chip once: sorting its footprint by fail
        voltage (what :meth:`placement` does, so that later reads are a
        prefix) would cost more than the read. Here one pass selects the
        cells faulty at ``vdd_v`` (fail voltage ``>= vdd_v``, the set a
        placement's prefix holds), nothing is cached, and the words,
        ``faulty_cells`` and ``flipped_bits`` equal :meth:`read`'s;
        ``fault_bits`` are in stream order rather than fail-voltage order.

        Returns
        -------
        ReadResult
            With ``words`` a fresh, writable array.
        """
        vdd_v = self._checked_voltage(vdd_v)
        chip = _validated_count("chip", chip, upper=2**63)
        if vdd_v <= self._profile.vdd_floor_v:
            floor_read = self._floor_read(chip)
            if floor_read is not None:
                return floor_read
        if self._profile.kind == "cells":
            stream_bits, table = self._measured_footprint(chip)
        else:
            stream_bits, table = self._generated_footprint(chip)
        faulty = np.flatnonzero(table.v_fail_v >= vdd_v)
        fault_bits = stream_bits[faulty]
        errs = _kernels.uniform_hash(np.uint64(self._seed), np.uint64(chip), table.cell_index[faulty])
        errs = errs < table.p_error[faulty]
        word_index, bit_in_word = np.divmod(fault_bits, self._word_bits)
        words = self._words.copy()
        flipped = _kernels.apply_faults(words, len(faulty), word_index, bit_in_word.astype(np.uint8),
                                        table.fault_kind[faulty], errs)
        fault_bits.setflags(write=False)
        return ReadResult(words=words, faulty_cells=len(faulty), flipped_bits=int(flipped),
                          fault_bits=fault_bits, tiled=self.tiled)

    def _floor_read(self, chip):
        """``read_once`` at the floor of a uniform-model chip: its cells all flip (None for other chips)."""
        # Profiles without the shortcut (stand-ins that only draw cells) take the general path.
        floor_flips = getattr(self._profile, "_floor_flips", None)
        n_arrays = -(-self.n_bits // self._profile.cells_per_array)
        cells = None if floor_flips is None else floor_flips(chip, n_arrays)
        if cells is None:
            return None
        fault_bits = cells[:int(np.searchsorted(cells, self.n_bits))]
        fault_bits.setflags(write=False)
        return ReadResult(words=flip_stream_bits(self._words, self._word_bits, fault_bits),
                          faulty_cells=len(fault_bits), flipped_bits=len(fault_bits), fault_bits=fault_bits,
                          tiled=self.tiled)

    def read_sparse(self, vdd_v, chip=0):
        """Read at ``vdd_v`` like :meth:`read`, returning only the words faulty cells touch.

        The work grows with the number of faulty cells alone: no copy of the
        stored words is made. Not safe to call from several threads at once
        on one memory (it patches and restores a private scratch copy).

        Returns
        -------
        SparseRead
        """
        vdd_v = self._checked_voltage(vdd_v)
        placement = self._placement_for(chip, vdd_v)
        if len(placement.neg_v_fail_v) <= _small.SMALL_CELLS:  # NumPy: Numba's runtime not loaded
            words, n_faulty, flipped = _small.read_prefix_sparse(
                self._words, placement.neg_v_fail_v, -vdd_v, placement.word_index,
                placement.bit_in_word, placement.fault_kind, placement.errs)
        else:
            if self._scratch is None:
                self._scratch = self._words.copy()
            words, n_faulty, flipped = _kernels.read_prefix_sparse(
                self._words, self._scratch, placement.neg_v_fail_v, -vdd_v, placement.word_index,
                placement.bit_in_word, placement.fault_kind, placement.errs)
        return SparseRead(word_index=placement.word_index[:n_faulty], words=words,
                          faulty_cells=int(n_faulty), flipped_bits=int(flipped),
                          fault_bits=placement.fault_bits[:n_faulty], tiled=placement.tiled)

    def read_changed(self, vdd_v: float, chip: int = 0) -> ChangedWords:
        """Read at ``vdd_v`` like :meth:`read`, returning each changed word once.

        Only the words holding a faulty cell are touched: the chip's cells
        are grouped by word once per placement (cached), and a read scans
        them, skipping the cells not faulty at ``vdd_v``. No copy of the
        stored words is made, so a model of 10^8 words reads its faults in
        memory proportional to the faults. The words equal :meth:`read`'s
        where they differ from storage; ``faulty_cells`` and ``flipped_bits``
        equal its counts.

        Returns
        -------
        ChangedWords
        """
        vdd_v = self._checked_voltage(vdd_v)
        placement = self._placement_for(chip, vdd_v)
        n_faulty = placement.n_faulty(vdd_v)
        index, words, flipped = _kernels.changed_words(n_faulty, *self._by_word(chip, placement))
        return ChangedWords(word_index=index, words=words, faulty_cells=int(n_faulty), flipped_bits=int(flipped),
                            tiled=placement.tiled)

    def _by_word(self, chip, placement):
        """``placement``'s cells grouped by word, words ascending (computed once per placement).

        Returns each cell's rank in the placement (its position in fail
        order, int32 where it fits), its word, the word's stored value, and
        the cell's bit, kind and erring flag, all in word order, so that a
        read scans them in sequence and never visits the stored words.
        """
        cached = self._word_orders.get(chip)
        if cached is None or cached[0] is not placement:
            order = np.argsort(placement.word_index)
            rank = order.astype(np.int32) if len(order) <= np.iinfo(np.int32).max else order
            word_index = placement.word_index[order]
            cached = (placement, (rank, word_index, self._words[word_index], placement.bit_in_word[order],
                                  placement.fault_kind[order], placement.errs[order]))
            del order
            self._word_orders[chip] = cached
        return cached[1]

    def read_with_flips(self, vdd_v, chip, flips):
        """Read at ``vdd_v`` after an attacker flipped the stored stream bits ``flips``.

        The flips change what the cells hold (as rowhammer does); the faults
        of ``vdd_v`` then apply to that content as in :meth:`read` (a stuck
        cell masks a flip, a flipping cell inverts the flipped value).

        Parameters
        ----------
        vdd_v : float
        chip : int
        flips : ndarray of int64
            Distinct stream bit positions in ``[0, n_bits)`` (the caller checks).

        Returns
        -------
        ReadResult
            ``flipped_bits`` counts the bits read differently from the words
            originally written (the attacker's and the faults').
        """
        vdd_v = self._checked_voltage(vdd_v)
        placement = self.placement(chip)
        words = flip_stream_bits(self._words, self._word_bits, flips)
        n_faulty = placement.n_faulty(vdd_v)
        _kernels.apply_faults(words, n_faulty, placement.word_index, placement.bit_in_word,
                              placement.fault_kind, placement.errs)
        return ReadResult(words=words, faulty_cells=int(n_faulty),
                          flipped_bits=count_differing_bits(words, self._words),
                          fault_bits=placement.fault_bits[:n_faulty], tiled=placement.tiled)

    def _checked_voltage(self, vdd_v):
        vdd_floor_v, vdd_nominal_v = self._vdd_range_v
        if type(vdd_v) is float and vdd_floor_v <= vdd_v <= vdd_nominal_v:
            return vdd_v  # the common case, spared the generic checks below
        if isinstance(vdd_v, bool) or not isinstance(vdd_v, numbers.Real) or math.isnan(vdd_v):
            raise SimulatedMemoryError(
                f"vdd_v = {vdd_v!r} is not a voltage; expected a real number in volts")
        vdd_v = float(vdd_v)
        # The profile owns the range and its error message.
        if not vdd_floor_v <= vdd_v <= vdd_nominal_v:
            self._profile.check_voltage(vdd_v)
        return vdd_v

    def _place(self, chip, vdd_lowest_v=None):
        # Written for chips with millions of faulty cells: no temporary of
        # the full length outlives its use, and casts are buffered.
        if self._profile.kind == "cells":
            stream_bits, table = self._measured_footprint(chip)
            vdd_lowest_v = None
        else:
            stream_bits, table = self._generated_footprint(chip, vdd_lowest_v)
        hashed = _small if len(table.cell_index) <= _small.SMALL_CELLS else _kernels
        errs = hashed.uniform_hash(np.uint64(self._seed), np.uint64(chip), table.cell_index)
        errs = errs < table.p_error
        order, neg_v_fail_v = _descending_fail_order(table.v_fail_v, stream_bits)
        fault_bits = stream_bits[order]
        del stream_bits
        index_dtype = np.int32 if self._words.size <= np.iinfo(np.int32).max else np.int64
        word_index = np.floor_divide(fault_bits, self._word_bits,
                                     out=np.empty(len(order), index_dtype), casting="unsafe")
        bit_in_word = np.remainder(fault_bits, self._word_bits,
                                   out=np.empty(len(order), np.uint8), casting="unsafe")
        return Placement(fault_bits=fault_bits, word_index=word_index, bit_in_word=bit_in_word,
                         neg_v_fail_v=neg_v_fail_v, fault_kind=table.fault_kind[order],
                         errs=errs[order], tiled=self.tiled,
                         vdd_lowest_v=-math.inf if vdd_lowest_v is None else float(vdd_lowest_v))

    def _generated_footprint(self, chip, vdd_lowest_v=None):
        n_arrays = -(-self.n_bits // self._profile.cells_per_array)
        if self.n_bits >= _UNCACHED_DRAW_BITS:
            table = self._profile.chip_cells(chip, n_arrays, vdd_lowest_v=vdd_lowest_v, cache=False)
        elif vdd_lowest_v is None:
            table = self._profile.chip_cells(chip, n_arrays)
        else:
            table = self._profile.chip_cells(chip, n_arrays, vdd_lowest_v=vdd_lowest_v)
        # Cells are sorted, so the footprint is a leading slice: views, no copies.
        end = int(np.searchsorted(table.cell_index, self.n_bits))
        return table.cell_index[:end], _subset(table, slice(0, end))

    def _measured_footprint(self, chip):
        n_cells = self._profile.n_cells
        table = self._profile.chip_cells(chip)
        offset = (chip * self.n_bits) % n_cells
        first_bit = (table.cell_index - offset) % n_cells
        # A tiled stream revisits every cell each n_cells bits.
        copies = np.maximum(0, -(-(self.n_bits - first_bit) // n_cells))
        entry = np.repeat(np.arange(len(table)), copies)
        starts = np.cumsum(copies) - copies
        repeat = np.arange(len(entry)) - np.repeat(starts, copies)
        stream_bits = first_bit[entry] + repeat * n_cells
        return stream_bits, _subset(table, entry)


def flip_stream_bits(words, word_bits, flips):
    """A copy of ``words`` with the distinct stream bits ``flips`` inverted."""
    out = words.copy()
    flips = np.asarray(flips, dtype=np.int64)
    masks = np.left_shift(1, flips % word_bits).astype(words.dtype)
    np.bitwise_xor.at(out, flips // word_bits, masks)
    return out


def count_differing_bits(a, b):
    """Number of bits that differ between two word arrays of one dtype."""
    return int(np.unpackbits(np.bitwise_xor(a, b).view(np.uint8)).sum(dtype=np.int64))


def _subset(table, selection):
    return type(table)(table.cell_index[selection], table.v_fail_v[selection],
                       table.fault_kind[selection], table.p_error[selection])


def _descending_fail_order(v_fail_v, stream_bits):
    """Order by descending fail voltage, ties by stream position; and minus the sorted voltages.

    Returns ``order`` and ``-v_fail_v[order]`` (ascending).
    """
    # An ascending introsort, reversed (a view), is 3x faster than a stable
    # sort of 10^7 cells and needs no negated copy; ties, rare with
    # continuous fail voltages, are put in stream order afterwards.
    order = np.argsort(v_fail_v)[::-1]
    neg_v_fail_v = v_fail_v[order]
    np.negative(neg_v_fail_v, out=neg_v_fail_v)
    tied = np.zeros(len(order), bool)
    tie_starts = np.flatnonzero(neg_v_fail_v[1:] == neg_v_fail_v[:-1])
    tied[tie_starts] = tied[tie_starts + 1] = True
    positions = np.flatnonzero(tied)
    runs = order[positions]
    order[positions] = runs[np.lexsort((stream_bits[runs], neg_v_fail_v[positions]))]
    return order, neg_v_fail_v


def _validated_words(words, word_bits):
    if not isinstance(words, np.ndarray) or words.ndim != 1 or words.dtype.kind != "u":
        described = (f"a {words.ndim}-D {words.dtype} array" if isinstance(words, np.ndarray)
                     else f"a {type(words).__name__}")
        raise SimulatedMemoryError(
            f"words is {described}; expected a 1-D unsigned integer array "
            "(uint8, uint16, uint32 or uint64)")
    if words.size == 0:
        raise SimulatedMemoryError("words is empty; expected at least one word to store")
    dtype_bits = words.dtype.itemsize * 8
    if (isinstance(word_bits, bool) or not isinstance(word_bits, numbers.Integral)
            or not 1 <= word_bits <= dtype_bits):
        raise SimulatedMemoryError(
            f"word_bits = {word_bits!r} does not fit {words.dtype} words; expected an "
            f"integer from 1 to {dtype_bits}")
    if word_bits < dtype_bits:
        too_wide = np.flatnonzero(words >> words.dtype.type(word_bits))
        if too_wide.size:
            k = int(too_wide[0])
            raise SimulatedMemoryError(
                f"words[{k}] = {int(words[k])} does not fit in word_bits = {word_bits} "
                f"bits; mask the words or raise word_bits")
    if not words.flags.writeable and words.base is None:
        return words  # already a read-only array that owns its data (a model's words): no copy
    stored = words.copy()
    stored.setflags(write=False)
    return stored


def _validated_count(name, value, *, upper):
    return check(name, value, Interval(int, 0, upper - 1), error=SimulatedMemoryError)
