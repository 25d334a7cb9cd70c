"""Training faults: parsing, rates, freshness per step, and the fixed-chip masks against the memory."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sram import ProfileError, SimulatedMemory, gaussian_profile
from accelsim.train import FaultSpec, TrainError, TrainingFaults, parse_fault_model

N_WORDS = 20_000  # 160,000 stored bits


def _bits(words):
    return np.unpackbits(words.view(np.uint8))


@pytest.mark.parametrize("text, spec", [("flip", FaultSpec("flip")), ("sa1", FaultSpec("sa1")),
                                        ("profile:14nm@0.6", FaultSpec("profile", "14nm", 0.6)),
                                        ("profile:my/chip.npz@0.55", FaultSpec("profile", "my/chip.npz", 0.55))])
def test_parse(text, spec):
    parsed = parse_fault_model(text)
    assert parsed == spec
    assert parse_fault_model(str(parsed)) == parsed


@pytest.mark.parametrize("text", ["", "flips", "profile:14nm", "profile:@0.6", "profile:14nm@-1", "profile:a@b@c"])
def test_parse_rejects(text):
    with pytest.raises(TrainError, match="fault model"):
        parse_fault_model(text)


@pytest.mark.parametrize("rate", [0.01, 0.1])
def test_flip_rate_and_fresh_chips(rate):
    faults = TrainingFaults(FaultSpec("flip"), rate=rate, seed=1)
    words = np.random.default_rng(0).integers(0, 256, N_WORDS).astype(np.uint8)
    first, second = faults.apply(words, 8, step=0), faults.apply(words, 8, step=1)
    n = words.size * 8
    flipped = _bits(first ^ words).sum()
    assert abs(flipped - rate * n) < 6 * np.sqrt(n * rate * (1 - rate))
    assert not np.array_equal(first, second)  # drawn anew each step
    np.testing.assert_array_equal(first, faults.apply(words, 8, step=0))  # and reproducibly


@pytest.mark.parametrize("kind, stuck", [("sa0", 0), ("sa1", 1)])
def test_stuck_at_rate(kind, stuck):
    rate = 0.05
    faults = TrainingFaults(FaultSpec(kind), rate=rate, seed=2)
    holding = np.full(N_WORDS, 255 if stuck else 0, np.uint8)  # every cell holds the stuck value
    np.testing.assert_array_equal(faults.apply(holding, 8, step=3), holding)
    opposite = ~holding
    read = faults.apply(opposite, 8, step=3)
    changed = _bits(read ^ opposite)
    n = changed.size
    assert abs(changed.sum() - rate * n) < 6 * np.sqrt(n * rate)
    assert np.all(_bits(read)[changed == 1] == stuck)


def test_fixed_chip_is_the_same_every_step():
    faults = TrainingFaults(FaultSpec("flip"), rate=0.05, chip=4, seed=0)
    words = np.arange(N_WORDS, dtype=np.uint16) % 4096
    np.testing.assert_array_equal(faults.apply(words, 12, step=0), faults.apply(words, 12, step=99))


# A chip with every fault kind and intermittent cells, at a voltage where ~10% of cells fail.
MIXED = gaussian_profile(0.5, 0.05, flip_share=0.3, sa1_to_sa0=2.0, intermittent_share=0.5, seed=5,
                         vdd_nominal_v=1.0, vdd_min_v=0.9, vdd_floor_v=0.4, arrays=2, rows=64, cols=64)


@pytest.fixture(scope="module")
def mixed_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("profiles") / "mixed.npz"
    MIXED.save(path)
    return path


@given(data=st.data(), bits=st.sampled_from([3, 8, 16]), chip=st.integers(0, 5), seed=st.integers(0, 3))
@settings(max_examples=20, deadline=None)
def test_fixed_chip_masks_match_a_read_of_the_memory(mixed_path, data, bits, chip, seed):
    dtype = np.uint8 if bits <= 8 else np.uint16
    n_words = data.draw(st.integers(1, 3000))
    words = np.asarray(data.draw(st.lists(st.integers(0, 2**bits - 1), min_size=n_words, max_size=n_words)),
                       dtype=dtype)
    vdd_v = 0.5 - 0.05 * 1.2816  # population BER 10%
    faults = TrainingFaults(FaultSpec("profile", str(mixed_path), vdd_v), chip=chip, seed=seed)
    expected = SimulatedMemory(MIXED, words, bits, seed=seed).read(vdd_v, chip=chip).words
    np.testing.assert_array_equal(faults.apply(words, bits, step=7), expected)


def test_profile_voltage_outside_range_is_a_profile_error():
    with pytest.raises(ProfileError, match="14nm"):
        TrainingFaults(parse_fault_model("profile:14nm@5.0"))


def test_unknown_profile_is_a_profile_error():
    with pytest.raises(ProfileError, match="no-such-profile"):
        TrainingFaults(parse_fault_model("profile:no-such-profile@0.6"))
