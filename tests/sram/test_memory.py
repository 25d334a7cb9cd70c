import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim._errors import UserInputError
from accelsim.sram import _kernels
from accelsim.sram.cells import FLIP, SA0, SA1, CellTable
from accelsim.sram.generators import gaussian_profile, uniform_profile
from accelsim.sram.memory import (
    MAX_CACHED_PLACEMENTS,
    SimulatedMemory,
    SimulatedMemoryError,
)
from accelsim.sram.profile import Profile, ProfileError

VDD_FLOOR_V, VDD_NOMINAL_V = 0.5, 1.0


class StandInError(UserInputError):
    """Raised by the stand-in profile for a voltage outside its range."""


class StandInProfile:
    """The part of a Profile that SimulatedMemory uses (docs/architecture.md).

    Kept beside the real profiles because it makes the property tests
    sharper: any fraction of cells (up to all) can be faulty, fail voltages
    are coarse so that ties occur, and every cell mixes kinds and p_error.
    Measured (``cells``) when built from a table, generated otherwise: then
    each array of each chip is drawn from its own stream, every cell failing
    with probability ``q``.
    """

    name = "stand-in"

    def __init__(self, arrays, rows, cols, *, table=None, q=0.0, seed=0):
        self.kind = "cells" if table is not None else "generated"
        self.arrays, self.rows, self.cols = arrays, rows, cols
        self.vdd_floor_v, self.vdd_nominal_v = VDD_FLOOR_V, VDD_NOMINAL_V
        self._table, self._q, self._seed = table, q, seed

    @property
    def cells_per_array(self):
        return self.rows * self.cols

    @property
    def n_cells(self):
        return self.arrays * self.cells_per_array

    def check_voltage(self, v):
        if not self.vdd_floor_v <= v <= self.vdd_nominal_v:
            raise StandInError(f"vdd_v = {v} outside [{self.vdd_floor_v}, {self.vdd_nominal_v}]")

    def chip_cells(self, chip=0, n_arrays=None, vdd_lowest_v=None):
        n_arrays = self.arrays if n_arrays is None else n_arrays
        if self.kind == "cells":
            return self._table
        parts = [self._draw_array(chip, a) for a in range(n_arrays)]
        columns = [np.concatenate([p[i] for p in parts]) for i in range(4)]
        if vdd_lowest_v is not None:
            kept = columns[1] >= vdd_lowest_v
            columns = [c[kept] for c in columns]
        return CellTable(*columns)

    def _draw_array(self, chip, array):
        rng = np.random.default_rng([self._seed, chip, array])
        index = np.flatnonzero(rng.random(self.cells_per_array) < self._q)
        return _random_cells(rng, index + array * self.cells_per_array)


def _random_cells(rng, cell_index):
    n = len(cell_index)
    # Coarse voltages so that ties (same fail voltage) happen and get tested.
    v_fail_v = np.round(rng.uniform(VDD_FLOOR_V, 0.95, n), 2)
    p_error = np.where(rng.random(n) < 0.5, 1.0, rng.uniform(0.05, 1.0, n))
    return (cell_index.astype(np.int64), v_fail_v,
            rng.integers(0, 3, n).astype(np.uint8), p_error)


def measured_profile(arrays, rows, cols, q, seed):
    rng = np.random.default_rng(seed)
    index = np.flatnonzero(rng.random(arrays * rows * cols) < q)
    return StandInProfile(arrays, rows, cols, table=CellTable(*_random_cells(rng, index)))


def to_stream(words, word_bits):
    shifts = np.arange(word_bits, dtype=np.uint64)
    return ((words.astype(np.uint64)[:, None] >> shifts) & np.uint64(1)).ravel().astype(bool)


def from_stream(bits, word_bits, dtype):
    weights = np.uint64(1) << np.arange(word_bits, dtype=np.uint64)
    return (bits.reshape(-1, word_bits).astype(np.uint64) * weights).sum(axis=1).astype(dtype)


def _dense(size, cell_index, values, fill):
    out = np.full(size, fill, values.dtype)
    out[cell_index] = values
    return out


def dense_read(profile, words, word_bits, vdd_v, chip, seed):
    """Reference read: one row per stored bit, every bit looked at."""
    n_bits = words.size * word_bits
    if profile.kind == "cells":
        cell = (chip * n_bits + np.arange(n_bits)) % profile.n_cells
        table = profile.chip_cells(chip)
    else:
        cell = np.arange(n_bits)
        table = profile.chip_cells(chip, -(-n_bits // profile.cells_per_array))
    size = max(profile.n_cells, n_bits, int(table.cell_index.max(initial=-1)) + 1)
    v_fail_v = _dense(size, table.cell_index, table.v_fail_v, -np.inf)[cell]
    kind = _dense(size, table.cell_index, table.fault_kind, 0)[cell]
    p_error = _dense(size, table.cell_index, table.p_error, 1.0)[cell]
    faulty = v_fail_v >= vdd_v
    errs = _kernels.uniform_hash(np.uint64(seed), np.uint64(chip), cell) < p_error
    stored = to_stream(words, word_bits)
    read = np.select([kind == SA0, kind == SA1, kind == FLIP], [False, True, ~stored])
    read = np.where(faulty & errs, read, stored)
    return from_stream(read, word_bits, words.dtype), int(faulty.sum()), int((read != stored).sum())


@st.composite
def memories(draw):
    arrays, rows, cols = draw(st.integers(1, 3)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    q = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
    seed = draw(st.integers(0, 2**32))
    if draw(st.booleans()):
        profile = measured_profile(arrays, rows, cols, q, seed)
    else:
        profile = StandInProfile(arrays, rows, cols, q=q, seed=seed)
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.uint32]))
    word_bits = draw(st.integers(1, np.dtype(dtype).itemsize * 8))
    # Up to about 3 chips' worth of bits, so that measured chips tile.
    n_words = draw(st.integers(1, max(1, 3 * profile.n_cells // word_bits)))
    words = np.random.default_rng(seed).integers(0, 2**word_bits, n_words).astype(dtype)
    return SimulatedMemory(profile, words, word_bits, seed=draw(st.integers(0, 2**64 - 1)))


voltages = st.floats(VDD_FLOOR_V, VDD_NOMINAL_V)
chips = st.integers(0, 50)
SMALL_PROFILE = uniform_profile(0.1, arrays=1, rows=8, cols=8, vdd_floor_v=VDD_FLOOR_V,
                                vdd_nominal_v=VDD_NOMINAL_V)


def cells_profile(table, arrays, rows, cols):
    """A real measured (``cells``) Profile holding ``table``."""
    meta = dict(uniform_profile(0.5, arrays=arrays, rows=rows, cols=cols,
                                vdd_floor_v=VDD_FLOOR_V, vdd_nominal_v=VDD_NOMINAL_V).to_meta())
    del meta["generator"]
    return Profile({**meta, "kind": "cells", "name": "measured-test"}, table)


@st.composite
def real_memories(draw):
    """Memories on real profiles: a varied Gaussian chip or a measured one."""
    arrays, rows, cols = draw(st.integers(1, 3)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**32))
    if draw(st.booleans()):
        profile = gaussian_profile(
            mu_v=0.65, sigma_cell_v=0.08, sigma_array_v=draw(st.sampled_from([0.0, 0.03])),
            sa1_to_sa0=draw(st.sampled_from([0.0, 1.0, 4.0])),
            flip_share=draw(st.sampled_from([0.0, 0.3, 1.0])),
            intermittent_share=draw(st.sampled_from([0.0, 0.5, 1.0])), seed=seed,
            arrays=arrays, rows=rows, cols=cols, vdd_nominal_v=VDD_NOMINAL_V,
            vdd_min_v=VDD_NOMINAL_V, vdd_floor_v=VDD_FLOOR_V)
    else:
        stand_in = measured_profile(arrays, rows, cols, draw(st.sampled_from([0.05, 0.5])), seed)
        profile = cells_profile(stand_in.chip_cells(), arrays, rows, cols)
    word_bits = draw(st.integers(1, 16))
    n_words = draw(st.integers(1, max(1, 3 * profile.n_cells // word_bits)))
    words = np.random.default_rng(seed).integers(0, 2**word_bits, n_words).astype(np.uint16)
    return SimulatedMemory(profile, words, word_bits, seed=draw(st.integers(0, 2**64 - 1)))


@settings(deadline=None, max_examples=200)
@given(st.one_of(memories(), real_memories()), voltages, chips)
def test_read_matches_dense_per_bit_reference(mem, vdd_v, chip):
    result = mem.read(vdd_v, chip)
    words, faulty, flipped = dense_read(mem.profile, mem.words, mem.word_bits, vdd_v, chip,
                                        mem.seed)
    np.testing.assert_array_equal(result.words, words)
    assert result.words.dtype == mem.words.dtype
    assert (result.faulty_cells, result.flipped_bits) == (faulty, flipped)
    assert result.faulty_cells == mem.faulty_cells(vdd_v, chip) == len(result.fault_bits)
    assert result.tiled == (mem.profile.kind == "cells" and mem.n_bits > mem.profile.n_cells)


@settings(deadline=None)
@given(st.one_of(memories(), real_memories()), voltages, voltages, chips)
def test_faults_are_nested_across_voltages(mem, v1, v2, chip):
    high, low = max(v1, v2), min(v1, v2)
    at_high, at_low = mem.read(high, chip), mem.read(low, chip)
    assert set(at_high.fault_bits) <= set(at_low.fault_bits)
    errors_high = to_stream(at_high.words ^ mem.words, mem.word_bits)
    errors_low = to_stream(at_low.words ^ mem.words, mem.word_bits)
    assert not np.any(errors_high & ~errors_low)
    assert at_high.flipped_bits <= at_low.flipped_bits


@settings(deadline=None)
@given(memories(), st.lists(voltages, min_size=2, max_size=5), chips)
def test_reads_do_not_depend_on_order_or_cache(mem, vdd_v, chip):
    fresh = SimulatedMemory(mem.profile, mem.words, mem.word_bits, seed=mem.seed)
    forward = [mem.read(v, chip).words for v in vdd_v]
    backward = [fresh.read(v, chip).words for v in reversed(vdd_v)][::-1]
    for a, b in zip(forward, backward):
        np.testing.assert_array_equal(a, b)


@settings(deadline=None, max_examples=100)
@given(st.one_of(memories(), real_memories()), st.lists(voltages, min_size=1, max_size=4), chips)
def test_sparse_reads_patch_storage_into_the_full_read(mem, vdd_v, chip):
    for v in vdd_v:  # repeated reads: the scratch copy must come back clean each time
        full, sparse = mem.read(v, chip), mem.read_sparse(v, chip)
        patched = mem.words.copy()
        patched[sparse.word_index] = sparse.words
        np.testing.assert_array_equal(patched, full.words)
        assert (sparse.faulty_cells, sparse.flipped_bits) == (full.faulty_cells, full.flipped_bits)
        np.testing.assert_array_equal(sparse.fault_bits, full.fault_bits)


@settings(max_examples=40, deadline=None)
@given(st.one_of(memories(), real_memories()), st.lists(st.tuples(voltages, chips), min_size=1, max_size=5))
def test_changed_words_are_the_words_a_full_read_changes(mem, reads):
    for vdd_v, chip in reads:  # the word order of a chip is reused, and recomputed for a deeper placement
        full = mem.read(vdd_v, chip)
        changed = mem.read_changed(vdd_v, chip)
        expected = np.flatnonzero(full.words != mem.words)
        np.testing.assert_array_equal(changed.word_index, expected)
        np.testing.assert_array_equal(changed.words, full.words[expected])
        assert changed.words.dtype == mem.words.dtype and changed.word_index.dtype == np.int64
        assert (changed.faulty_cells, changed.flipped_bits, changed.tiled) == (
            full.faulty_cells, full.flipped_bits, full.tiled)
        del full


def test_placement_cache_is_bounded_in_cells(monkeypatch):
    from accelsim.sram import memory

    mem = SimulatedMemory(uniform_profile(0.1), np.zeros(4096, np.uint8), 8)
    one_chip = len(mem.placement(0))
    monkeypatch.setattr(memory, "MAX_CACHED_CELLS", 2 * one_chip + one_chip // 2)
    for chip in range(1, 6):
        mem.read_changed(0.5, chip)
        assert len(mem._placements) <= 2 and set(mem._word_orders) <= set(mem._placements)
    assert list(mem._placements) == [4, 5]
    fresh = SimulatedMemory(mem.profile, mem.words, 8)
    assert mem.read_changed(0.6, 0).flipped_bits == fresh.read_changed(0.6, 0).flipped_bits  # placed again


def test_placement_cache_is_bounded():
    mem = SimulatedMemory(uniform_profile(0.1), np.zeros(64, np.uint8), 8)
    for chip in range(MAX_CACHED_PLACEMENTS + 5):
        mem.placement(chip)
    assert len(mem._placements) == MAX_CACHED_PLACEMENTS
    assert mem.read(0.7, 0).faulty_cells == SimulatedMemory(mem.profile, mem.words, 8).read(0.7, 0).faulty_cells


def test_placement_is_sorted_by_descending_fail_voltage_and_cached():
    table = measured_profile(4, 16, 16, 0.2, 1).chip_cells()
    mem = SimulatedMemory(cells_profile(table, 4, 16, 16), np.arange(64, dtype=np.uint8), 8)
    placement = mem.placement(3)
    assert mem.placement(3) is placement
    assert len(placement) > 0
    order = np.lexsort((placement.fault_bits, -placement.v_fail_v))
    np.testing.assert_array_equal(order, np.arange(len(placement)))
    with pytest.raises(ValueError, match="read-only"):
        placement.fault_bits[0] = 0


def test_stuck_at_cells_change_only_differing_bits():
    n_cells = 1024
    index = np.arange(n_cells, dtype=np.int64)
    for kind, stored_value in ((SA0, 0), (SA1, 0xFF)):
        table = CellTable(index, np.full(n_cells, 0.9), np.full(n_cells, kind, np.uint8),
                          np.ones(n_cells))
        profile = cells_profile(table, 1, 32, 32)
        words = np.random.default_rng(kind).integers(0, 256, n_cells // 8).astype(np.uint8)
        words[:16] = stored_value
        result = SimulatedMemory(profile, words, 8).read(0.6)
        assert result.faulty_cells == n_cells
        assert np.all(result.words == stored_value)
        assert result.flipped_bits == np.sum(to_stream(words, 8) != bool(stored_value))


def test_intermittent_cells_err_at_their_rate_and_the_same_way_each_run():
    n_cells = 20_000
    table = CellTable(np.arange(n_cells, dtype=np.int64), np.full(n_cells, 0.9),
                      np.full(n_cells, FLIP, np.uint8), np.full(n_cells, 0.3))
    profile = cells_profile(table, 1, 100, 200)
    words = np.zeros(n_cells // 8, np.uint8)
    first = SimulatedMemory(profile, words, 8, seed=11).read(0.7)
    again = SimulatedMemory(profile, words, 8, seed=11).read(0.7)
    other_seed = SimulatedMemory(profile, words, 8, seed=12).read(0.7)
    assert first.faulty_cells == n_cells
    # Binomial(20000, 0.3): sd = 65; 6 sd of slack.
    assert abs(first.flipped_bits - 0.3 * n_cells) < 6 * np.sqrt(n_cells * 0.3 * 0.7)
    np.testing.assert_array_equal(first.words, again.words)
    assert not np.array_equal(first.words, other_seed.words)


def test_measured_chip_offsets_and_tiling():
    profile = cells_profile(measured_profile(2, 8, 8, 0.3, 5).chip_cells(), 2, 8, 8)
    n_cells = profile.n_cells
    words = np.zeros(n_cells * 5 // 2 // 8, np.uint8)  # 2.5 chips
    mem = SimulatedMemory(profile, words, 8)
    assert mem.tiled
    fault_bits = np.sort(mem.read(VDD_FLOOR_V, chip=0).fault_bits)
    # The same fault map repeats every n_cells stream bits.
    first_copy = fault_bits[fault_bits < n_cells]
    np.testing.assert_array_equal(fault_bits, np.sort(np.concatenate(
        [first_copy + n_cells * k for k in range(3)]))[:len(fault_bits)])
    assert len(fault_bits) == len(first_copy) * 2 + np.sum(first_copy < n_cells // 2)
    # Chip k starts at cell (k * n_bits) mod n_cells.
    chip1 = mem.placement(1)
    offset = (mem.n_bits) % n_cells
    cells = (offset + chip1.fault_bits) % n_cells
    table = profile.chip_cells()
    np.testing.assert_array_equal(np.unique(cells), table.cell_index)
    np.testing.assert_array_equal(chip1.v_fail_v,
                                  table.v_fail_v[np.searchsorted(table.cell_index, cells)])
    short = SimulatedMemory(profile, words[:4], 8)
    assert not short.tiled and not short.read(VDD_FLOOR_V).tiled


def test_generated_chip_draws_as_many_arrays_as_needed():
    profile = uniform_profile(0.5, arrays=1, rows=8, cols=8, seed=3)
    words = np.zeros(40, np.uint8)  # 320 bits: 5 arrays of 64 cells
    result = SimulatedMemory(profile, words, 8).read(VDD_FLOOR_V, chip=2)
    assert not result.tiled
    assert result.fault_bits.max() >= 4 * 64
    np.testing.assert_array_equal(np.sort(result.fault_bits),
                                  profile.chip_cells(2, 5).cell_index)


def test_chips_of_a_generated_profile_differ_and_repeat():
    profile = uniform_profile(0.2, arrays=4, rows=16, cols=16, seed=9)
    words = np.zeros(128, np.uint8)
    mem = SimulatedMemory(profile, words, 8)
    assert not np.array_equal(mem.read(0.5, chip=0).fault_bits, mem.read(0.5, chip=1).fault_bits)
    np.testing.assert_array_equal(mem.read(0.5, chip=1).words,
                                  SimulatedMemory(profile, words, 8).read(0.5, chip=1).words)


def test_read_leaves_the_stored_words_untouched():
    words = np.arange(256, dtype=np.uint8)
    mem = SimulatedMemory(uniform_profile(0.5, arrays=1, rows=64, cols=64), words, 8)
    result = mem.read(VDD_FLOOR_V)
    assert result.flipped_bits > 0
    np.testing.assert_array_equal(mem.words, np.arange(256))
    words[0] = 99  # the memory keeps its own copy
    assert mem.words[0] == 0
    # Read words come from the memory's persistent read buffer: read-only, never changed later.
    assert not mem.words.flags.writeable and not result.words.flags.writeable
    assert mem.n_bits == mem.stored_bits == 256 * 8


@pytest.mark.parametrize("words, word_bits, match", [
    ([1, 2, 3], 8, "words is a list"),
    (np.zeros((2, 2), np.uint8), 8, "2-D"),
    (np.zeros(4, np.int8), 8, "unsigned"),
    (np.zeros(4, np.float32), 8, "unsigned"),
    (np.zeros(0, np.uint8), 8, "empty"),
    (np.zeros(4, np.uint8), 0, "word_bits = 0"),
    (np.zeros(4, np.uint8), 9, "word_bits = 9"),
    (np.zeros(4, np.uint16), True, "word_bits = True"),
    (np.zeros(4, np.uint16), 4.0, "word_bits = 4.0"),
    (np.array([1, 2, 16, 3], np.uint8), 4, r"words\[2\] = 16"),
])
def test_invalid_words_are_named(words, word_bits, match):
    with pytest.raises(SimulatedMemoryError, match=match):
        SimulatedMemory(SMALL_PROFILE, words, word_bits)


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, "0"])
def test_invalid_seed_is_named(seed):
    with pytest.raises(SimulatedMemoryError, match="seed"):
        SimulatedMemory(SMALL_PROFILE, np.zeros(4, np.uint8), 8, seed=seed)


@pytest.mark.parametrize("vdd_v, chip, error, match", [
    (float("nan"), 0, SimulatedMemoryError, "vdd_v"),
    ("0.7", 0, SimulatedMemoryError, "vdd_v"),
    (0.4, 0, ProfileError, "0.4"),
    (1.1, 0, ProfileError, "1.1"),
    (0.7, -1, SimulatedMemoryError, "chip = -1"),
    (0.7, 1.0, SimulatedMemoryError, "chip = 1.0"),
])
def test_invalid_read_is_named(vdd_v, chip, error, match):
    mem = SimulatedMemory(SMALL_PROFILE, np.zeros(4, np.uint8), 8)
    for query in (mem.read, mem.faulty_cells):
        with pytest.raises(error, match=match):
            query(vdd_v, chip)


def test_uniform_profile_flips_follow_binomial():
    n_bits, ber, n_chips = 2**20, 1e-3, 20
    profile = uniform_profile(1e-2)
    vdd_v = profile.voltage_for_ber(ber)
    words = np.random.default_rng(0).integers(0, 256, n_bits // 8).astype(np.uint8)
    mem = SimulatedMemory(profile, words, 8)
    flipped = np.array([mem.read(vdd_v, chip).flipped_bits for chip in range(n_chips)])
    mean, sd = n_bits * ber, np.sqrt(n_bits * ber * (1 - ber))
    z = (flipped - mean) / sd
    # Each chip within 5 sd, their mean within 5 sd of the mean, and their
    # spread neither collapsed nor inflated (chi-square, 19 dof: 1e-4 tails
    # at 0.3 and 2.6 times the variance).
    assert np.all(np.abs(z) < 5)
    assert abs(z.mean()) < 5 / np.sqrt(n_chips)
    assert 0.2 < z.var(ddof=1) < 3.0


def test_voltage_outside_a_real_profile_raises_profile_error():
    profile = uniform_profile(1e-2, arrays=1, rows=8, cols=8)
    mem = SimulatedMemory(profile, np.zeros(8, np.uint8), 8)
    for vdd_v in (profile.vdd_floor_v - 0.01, profile.vdd_nominal_v + 0.01):
        with pytest.raises(ProfileError, match=profile.name):
            mem.read(vdd_v)
    assert mem.read(profile.vdd_floor_v).faulty_cells == mem.faulty_cells(profile.vdd_floor_v)


def test_intermittent_cells_of_a_gaussian_chip_err_at_their_mean_rate():
    profile = gaussian_profile(intermittent_share=1.0, flip_share=1.0, p_error_min=0.2,
                               p_error_max=0.6, arrays=4)
    mem = SimulatedMemory(profile, np.zeros(profile.n_cells // 8, np.uint8), 8, seed=5)
    result = mem.read(profile.vdd_floor_v)
    n = result.faulty_cells
    assert n > 10_000
    # Every faulty cell flips when it errs; p_error is uniform in [0.2, 0.6].
    assert abs(result.flipped_bits / n - 0.4) < 6 * np.sqrt(0.24 / n)


def test_placement_follows_the_voltages_asked_for():
    from accelsim.sram import load_profile

    profile = load_profile("14nm")
    words = np.arange(200_000, dtype=np.uint32) & 0xFF
    deep = SimulatedMemory(profile, words.astype(np.uint8), 8)
    full = deep.placement(0)  # down to the floor
    lazy = SimulatedMemory(profile, words.astype(np.uint8), 8)
    for vdd_v in (0.75, 0.6, 0.56):
        expected = deep.read(vdd_v, 0)
        got = lazy.read(vdd_v, 0)
        assert np.array_equal(got.words, expected.words) and got.flipped_bits == expected.flipped_bits
        placed = lazy._placement_for(0, vdd_v)  # what the read used
        assert len(placed) < len(full) and placed.vdd_lowest_v == vdd_v
    planned = SimulatedMemory(profile, words.astype(np.uint8), 8).plan_voltages(0.56)
    assert planned.faulty_cells(0.75) == deep.faulty_cells(0.75)
    assert planned._placement_for(0, 0.75).vdd_lowest_v == 0.56


def test_a_placement_beyond_the_machine_is_refused_up_front():
    from accelsim.sram import load_profile
    from accelsim.sram._budget import check_placement_budget

    profile = load_profile("14nm")
    with pytest.raises(SimulatedMemoryError, match=r"GiB, but only 0\.0 MiB"):
        check_placement_budget(profile, 8 * 10**9, None, 10**9, available=1000)
    check_placement_budget(profile, 8 * 10**6, profile.vdd_min_v, 10**6, available=10**9)


def test_a_read_beyond_a_tiny_memory_budget_is_refused_before_placing(monkeypatch):
    from accelsim.sram import _budget, load_profile

    monkeypatch.setattr(_budget, "available_memory_bytes", lambda: 512 * 2**10)
    mem = SimulatedMemory(load_profile("14nm"), np.zeros(10**5, np.uint8), 8)
    assert mem.read(0.7, 0).faulty_cells < 100  # a few faults fit
    with pytest.raises(SimulatedMemoryError, match=r"down to 0\.5 V means about [\d,]+ faulty cells, an estimated "
                       r"[\d.]+ MiB, but only 0\.5 MiB is available"):
        mem.read(0.5, 0)
    assert mem._placements[0].vdd_lowest_v == 0.7  # the deeper placement was never made


@settings(max_examples=30, deadline=None)
@given(st.one_of(memories(), real_memories()), st.lists(st.tuples(voltages, chips), min_size=2, max_size=6))
def test_reads_through_the_persistent_buffer_match_fresh_reads(mem, reads):
    # Each result is dropped before the next read, so the buffer moves in place
    # from one read's faults to the next (nested prefixes, or another chip).
    for vdd_v, chip in reads:
        result = mem.read(vdd_v, chip)
        expected = SimulatedMemory(mem.profile, mem.words, mem.word_bits, seed=mem.seed).read(vdd_v, chip)
        np.testing.assert_array_equal(result.words, expected.words)
        assert (result.faulty_cells, result.flipped_bits) == (expected.faulty_cells, expected.flipped_bits)
        words, faulty, flipped = dense_read(mem.profile, mem.words, mem.word_bits, vdd_v, chip, mem.seed)
        np.testing.assert_array_equal(result.words, words)
        assert (result.faulty_cells, result.flipped_bits) == (faulty, flipped)
        del result, expected


def test_held_read_words_never_change():
    profile = uniform_profile(0.3, arrays=1, rows=64, cols=64)
    mem = SimulatedMemory(profile, np.arange(512, dtype=np.uint16) % 256, 8)
    low = mem.read(VDD_FLOOR_V)
    kept = low.words[:100]  # a view of a view still pins the buffer
    snapshot = low.words.copy()
    del low
    high = mem.read(profile.voltage_for_ber(0.01))
    np.testing.assert_array_equal(kept, snapshot[:100])
    assert not np.array_equal(high.words, snapshot)
    with pytest.raises(ValueError):
        high.words[0] = 1


@settings(max_examples=40, deadline=None)
@given(st.one_of(memories(), real_memories()), voltages, chips)
def test_read_once_equals_read(mem, vdd_v, chip):
    once = mem.read_once(vdd_v, chip)
    fresh = SimulatedMemory(mem.profile, mem.words, mem.word_bits, seed=mem.seed)
    placed = fresh.read(vdd_v, chip)
    np.testing.assert_array_equal(once.words, placed.words)
    assert (once.faulty_cells, once.flipped_bits, once.tiled) == (
        placed.faulty_cells, placed.flipped_bits, placed.tiled)
    np.testing.assert_array_equal(np.sort(once.fault_bits), np.sort(placed.fault_bits))
    assert once.words.flags.writeable and not mem._placements  # nothing sorted or cached


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([0.01, 0.1, 0.5, 1.0]), st.integers(0, 2**32), st.integers(1, 3), st.integers(1, 40),
       st.sampled_from([(np.uint8, 8), (np.uint8, 5), (np.uint16, 12)]), st.integers(1, 400), chips)
def test_read_once_at_the_floor_of_a_uniform_chip_equals_read(p_max, seed, arrays, rows, word, n_words, chip):
    # The floor's shortcut (positions only, every cell flips) against the placed read.
    dtype, word_bits = word
    profile = uniform_profile(p_max, seed=seed, arrays=arrays, rows=rows, cols=8, vdd_floor_v=VDD_FLOOR_V,
                              vdd_nominal_v=VDD_NOMINAL_V)
    words = np.random.default_rng(seed).integers(0, 2**word_bits, n_words).astype(dtype)
    once = SimulatedMemory(profile, words, word_bits, seed=seed).read_once(VDD_FLOOR_V, chip)
    placed = SimulatedMemory(profile, words, word_bits, seed=seed).read(VDD_FLOOR_V, chip)
    np.testing.assert_array_equal(once.words, placed.words)
    assert (once.faulty_cells, once.flipped_bits, once.tiled) == (
        placed.faulty_cells, placed.flipped_bits, placed.tiled)
    np.testing.assert_array_equal(once.fault_bits, np.sort(placed.fault_bits))
