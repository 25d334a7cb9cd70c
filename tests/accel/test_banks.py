"""Weight banks: the TOML tables, the layer mapping, per-bank energy with protection."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.accel import (
    Accelerator,
    AcceleratorError,
    LayerWorkload,
    default_accelerator,
)
from accelsim.accel.banks import (
    WeightBank,
    bank_assignment,
    banked_energy,
    split_layers,
    split_msb,
)
from accelsim.sram import EnergyModel


def _workloads():
    return [LayerWorkload(name=f"l{i}", kind="linear", n_weights=n, weight_bits=8, macs=n,
                          act_in=64, act_out=n // 64, act_bits=8, zero_fraction=0.0)
            for i, n in enumerate([64 * 10, 64 * 40, 64 * 30, 64 * 20])]


def test_banks_round_trip_through_toml(tmp_path):
    accel = dataclasses.replace(default_accelerator(), weight_banks=(
        WeightBank("a", 1000, ("l0", "l1")), WeightBank("b", 2000, ("l2", "l3"))),
        decoder_energy_j={"secded:64": 1e-12})
    path = tmp_path / "a.toml"
    path.write_text(accel.to_toml())
    assert Accelerator.from_toml(path) == accel


@pytest.mark.parametrize("banks, fragment", [
    ((WeightBank("a", 10, ("l0", "l1", "l2")),), "l3"),
    ((WeightBank("a", 10, ("l0", "l1", "l2", "l3", "nope")),), "nope"),
    ((WeightBank("a", 10, ("l0", "l1")), WeightBank("b", 10, ("l1", "l2", "l3"))), "two weight banks"),
])
def test_bad_mappings_are_refused(banks, fragment):
    with pytest.raises(AcceleratorError, match=fragment):
        bank_assignment(banks, ["l0", "l1", "l2", "l3"])


def test_sliced_banks_round_trip_through_toml(tmp_path):
    banks = split_msb((WeightBank("a", 1000, ("l0", "l1", "l2", "l3")),), 3, 8)
    assert [(b.name, b.bits, b.capacity_bits) for b in banks] == [("a-msb", (5, 8), 375), ("a-lsb", (0, 5), 625)]
    accel = dataclasses.replace(default_accelerator(), weight_banks=banks)
    path = tmp_path / "a.toml"
    path.write_text(accel.to_toml())
    assert "bits = [5, 8]" in path.read_text()
    assert Accelerator.from_toml(path) == accel


LAYERS = ["l0", "l1", "l2", "l3"]


@pytest.mark.parametrize("banks, fragment", [
    ((WeightBank("a", 10, LAYERS, (4, 8)), WeightBank("b", 10, LAYERS, (0, 5))), "overlap at bit 4"),
    ((WeightBank("a", 10, LAYERS, (5, 8)), WeightBank("b", 10, LAYERS, (0, 4))), "leave bits out at bit 4"),
    ((WeightBank("a", 10, LAYERS, (4, 7)), WeightBank("b", 10, LAYERS, (0, 4))), "bits 0..6 of its 8-bit"),
    ((WeightBank("a", 10, LAYERS, (4, 8)), WeightBank("b", 10, LAYERS)), "give both a bits key"),
])
def test_bad_bit_slices_are_refused(banks, fragment):
    with pytest.raises(AcceleratorError, match=fragment):
        bank_assignment(banks, LAYERS, word_bits=8)


@pytest.mark.parametrize("bits, fragment", [((3,), r"expected \[low, high\]"), ((5, 5), r"bits\[1\]"),
                                            ((-1, 4), r"bits\[0\]"), ("0:4", r"expected \[low, high\]"),
                                            (5, r"expected \[low, high\]")])
def test_bad_bits_keys_are_refused(bits, fragment):
    with pytest.raises(AcceleratorError, match=fragment):
        WeightBank("a", 10, LAYERS, bits)
    with pytest.raises(AcceleratorError, match=fragment):  # as a TOML table gives it
        WeightBank.from_dict({"name": "a", "capacity_bits": 10, "layers": LAYERS, "bits": bits})


def test_split_msb_checks_its_width():
    with pytest.raises(AcceleratorError, match="--msb-split"):
        split_msb((WeightBank("a", 10, LAYERS),), 8, 8)
    with pytest.raises(AcceleratorError, match="already holds bits"):
        split_msb(split_msb((WeightBank("a", 10, LAYERS),), 2, 8), 1, 8)


def test_bit_slices_share_the_banks_energy():
    """At one voltage the slices cost what their bank does; each slice's share follows its bits."""
    accel, energy = default_accelerator(), EnergyModel()
    whole = split_layers([(w.name, w.n_weights * 8) for w in _workloads()], 2,
                         accel.weight_memory.capacity_bits)
    sliced = split_msb(whole, 3, 8)
    assert bank_assignment(sliced, LAYERS, word_bits=8) == [(1, 0), (1, 0), (3, 2), (3, 2)]
    for vdd in (0.9, 0.6):
        plain = banked_energy(accel, _workloads(), energy, [vdd, vdd], 0.9, banks=whole)
        cut = banked_energy(accel, _workloads(), energy, [vdd] * 4, 0.9, banks=sliced)
        assert cut.weight_mem_j == pytest.approx(plain.weight_mem_j, rel=1e-4)
        assert cut.per_bank_j[0] / cut.per_bank_j[1] == pytest.approx(3 / 5, rel=1e-3)
    low = banked_energy(accel, _workloads(), energy, [0.9, 0.6, 0.9, 0.6], 0.9, banks=sliced)
    high = banked_energy(accel, _workloads(), energy, [0.6, 0.9, 0.6, 0.9], 0.9, banks=sliced)
    assert low.weight_mem_j < high.weight_mem_j  # the low bits are the larger share
    protected = banked_energy(accel, _workloads(), energy, [0.6] * 4, 0.9, banks=sliced,
                              protections=["msb:1", "none", "msb:1", "none"])
    assert protected.per_bank_j[0] > cut.per_bank_j[0]  # one of the 3 top bits at nominal


def test_bad_bank_tables_are_refused(tmp_path):
    text = default_accelerator().to_toml() + '\n[[weight_banks]]\nname = "a"\nlayers = ["x"]\n'
    path = tmp_path / "a.toml"
    path.write_text(text)
    with pytest.raises(AcceleratorError, match="capacity_bits"):
        Accelerator.from_toml(path)
    with pytest.raises(AcceleratorError, match="decoder_energy_j.hamming"):
        dataclasses.replace(default_accelerator(), decoder_energy_j={"hamming": 1.0})


def test_split_layers_is_contiguous_and_balanced():
    banks = split_layers([(w.name, w.n_weights * 8) for w in _workloads()], 2)
    assert [b.layers for b in banks] == [("l0", "l1"), ("l2", "l3")]
    with pytest.raises(AcceleratorError, match="--banks"):
        split_layers([("a", 1)], 2)


# Stored bits of MNIST LeNet-GN's layers (8 bit): the default cut leaves norm3 alone in a bank.
LENET_GN_BITS = [("conv1", 1248), ("norm1", 96), ("conv2", 19328), ("norm2", 256), ("fc1", 384960),
                 ("norm3", 1920), ("fc2", 81312), ("norm4", 1344), ("fc3", 6800)]


def _squares(banks, layer_bits):
    bits = dict(layer_bits)
    return sum(sum(bits[layer] for layer in bank.layers) ** 2 for bank in banks)


def test_balanced_split_does_not_leave_a_norm_layer_alone():
    nearest = split_layers(LENET_GN_BITS, 4)
    assert ("norm3",) in [b.layers for b in nearest]  # the weakness the balanced split removes
    balanced = split_layers(LENET_GN_BITS, 4, method="balanced")
    assert [b.layers for b in balanced] == [("conv1", "norm1", "conv2", "norm2"), ("fc1",),
                                            ("norm3", "fc2"), ("norm4", "fc3")]
    assert _squares(balanced, LENET_GN_BITS) < _squares(nearest, LENET_GN_BITS)
    with pytest.raises(AcceleratorError, match="method"):
        split_layers(LENET_GN_BITS, 4, method="greedy")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=7), st.data())
def test_balanced_split_is_the_exact_minimum(bits, data):
    from itertools import combinations

    n = data.draw(st.integers(1, len(bits)))
    layer_bits = [(f"l{i}", b) for i, b in enumerate(bits)]
    banks = split_layers(layer_bits, n, method="balanced")
    assert [layer for bank in banks for layer in bank.layers] == [name for name, _ in layer_bits]
    assert len(banks) == n and all(bank.layers for bank in banks)
    # Brute force over every contiguous split into n non-empty banks.
    best = min(sum(sum(bits[a:b]) ** 2 for a, b in zip((0, *cuts), (*cuts, len(bits)), strict=True))
               for cuts in combinations(range(1, len(bits)), n - 1))
    assert _squares(banks, layer_bits) == best
    assert _squares(banks, layer_bits) <= _squares(split_layers(layer_bits, n), layer_bits)


def test_one_unprotected_bank_is_the_accelerator_energy():
    accel, energy = default_accelerator(), EnergyModel()
    for vdd in (0.9, 0.7):
        plain = accel.energy(_workloads(), energy, vdd, 0.9)
        banked = banked_energy(accel, _workloads(), energy, [vdd], 0.9)
        assert banked.total_j == pytest.approx(plain.total_j, rel=1e-12)
        assert banked.weight_mem_j == pytest.approx(plain.weight_mem_j, rel=1e-12)


def test_protection_overheads_and_bank_voltages():
    accel = dataclasses.replace(default_accelerator(), weight_memory=dataclasses.replace(
        default_accelerator().weight_memory, capacity_bits=1))  # leakage follows the stored bits
    energy = EnergyModel()
    banks = split_layers([(w.name, w.n_weights * 8) for w in _workloads()], 2, capacity_bits=1)
    none = banked_energy(accel, _workloads(), energy, [0.7, 0.7], 0.9, banks=banks)
    secded = banked_energy(accel, _workloads(), energy, [0.7, 0.7], 0.9, banks=banks,
                           protections=["secded:64", "secded:64"])
    # 72/64 stored bits, plus a decoder per codeword.
    assert secded.decoder_j == pytest.approx(sum(w.n_weights * 8 // 64 for w in _workloads()) * 0.7e-12)
    assert secded.weight_mem_j - secded.decoder_j == pytest.approx(none.weight_mem_j * 72 / 64, rel=1e-6)
    lower = banked_energy(accel, _workloads(), energy, [0.7, 0.6], 0.9, banks=banks)
    assert lower.per_bank_j[0] == pytest.approx(none.per_bank_j[0], rel=1e-9)
    assert lower.per_bank_j[1] < none.per_bank_j[1]
    with pytest.raises(AcceleratorError, match="expected 2 values"):
        banked_energy(accel, _workloads(), energy, [0.7], 0.9, banks=banks)


def test_activation_domain_energy_falls_with_v_squared():
    from accelsim.accel import accelerator_preset
    from accelsim.accel.technology import sram_energy_model

    accel, energy = accelerator_preset("edge"), EnergyModel()
    nominal_v = accel.vdd_nominal_v
    base = banked_energy(accel, _workloads(), energy, [0.7], nominal_v)
    # The accelerator prices its activation SRAM with the node's technology model.
    model = sram_energy_model(accel.activation_memory.capacity_bits, accel.word_bits, accel.node_nm, nominal_v)
    assert accel.activation_memory.read_energy_per_bit_j == pytest.approx(model.read_energy_per_bit_j)
    assert base.act_mem_j > 0
    for act_v in (nominal_v, 0.7, 0.6, 0.5):
        e = banked_energy(accel, _workloads(), energy, [0.7], nominal_v, act_vdd_v=act_v)
        assert e.act_mem_j == pytest.approx(base.act_mem_j * (act_v / nominal_v) ** 2, rel=1e-12)
        assert e.weight_mem_j == base.weight_mem_j and e.mac_j == base.mac_j
        assert e.total_j == pytest.approx(e.weight_mem_j + e.act_mem_j + e.mac_j, rel=1e-12)
    with pytest.raises(AcceleratorError, match="act_vdd_v"):
        banked_energy(accel, _workloads(), energy, [0.7], nominal_v, act_vdd_v=-1.0)
