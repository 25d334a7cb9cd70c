"""Cycles and energy of one inference (batch size 1) on an :class:`Accelerator`.

Cost model, per layer (:class:`~accelsim.accel.workload.LayerWorkload`):

Array layers (``conv``, ``linear``): a weight-stationary systolic array of
``R x C`` PEs (``pe_array.rows x cols``). Per group (``groups``), the layer
is a matrix product of reduction length ``K = ceil(macs / act_out)``,
``Cg = out_channels / groups`` output channels and ``T = output_pixels``
outputs per channel. It runs in ``tiles = groups * ceil(K / R) * ceil(Cg / C)``
tiles; each loads its weights into the array, streams the ``T`` pixels
through it and drains, taking ``2R + C + T - 2`` cycles (the SCALE-Sim
analytical model: Samajdar et al., ISPASS 2020). Partial sums of the
``ceil(K / R)`` row folds stay in the output accumulators; each of the
``ceil(Cg / C)`` column folds streams the layer's input once more (a line
buffer forms the convolution windows, so an input element is read once per
column fold, not once per window).

Element-wise layers (any other kind, e.g. ``norm``): the vector unit at the
array's output processes ``C`` elements per cycle, taking
``ceil(max(act_in, act_out) / C)`` cycles, and reads its input once.

Every layer reads each of its stored parameters once (``n_weights *
weight_bits`` bits, bias and norm parameters included) through a weight
SRAM port of ``word_bits`` per cycle; loading is double-buffered, so a
layer takes ``max(compute cycles, ceil(weight bits / word_bits))`` cycles.
It writes ``act_out`` activations once. The network's input is already in
the activation SRAM; ReLU and pooling fused into the layers cost nothing.

Energy:

- weight SRAM, dynamic: weight bits read x its read energy per bit
  (:meth:`Accelerator.weight_energy_model`: the accelerator's node, or the
  profile's block) at the weight SRAM's supply (``(V / Vnom) ** 2``); weights are
  stationary across inferences, so never written;
- weight SRAM, leakage: leakage power of ``max(capacity_bits, stored bits)``
  at that supply, times the latency;
- activation SRAM: bits read and written x its per-bit energies, at nominal;
- MACs: ``macs`` x :meth:`MacEnergies.mac_energy_j` at nominal; with zero
  gating a MAC whose input activation is zero is skipped, saving
  ``zero_fraction`` of them (energy only: the schedule, hence the latency,
  is unchanged).

Latency is ``cycles / clock_hz``; with :class:`AlphaPower` the clock slows
with the weight SRAM's supply, so leakage energy grows at low voltage.
"""

import math
from dataclasses import asdict, dataclass, fields

from accelsim.accel._validate import AcceleratorError, check_real
from accelsim.accel.workload import ARRAY_KINDS, LayerWorkload
from accelsim.sram.energy import EnergyModel

__all__ = ["LayerCost", "LayerEnergy", "EnergyBreakdown", "layer_cost", "inference_energy"]


def _ceil_div(a, b):
    return -(-a // b)


@dataclass(frozen=True)
class LayerCost:
    """Voltage-independent counts of one layer on one accelerator."""

    cycles: int
    weight_bits_read: int
    act_bits_read: int
    act_bits_written: int
    macs_executed: float


def layer_cost(accelerator, workload):
    """Cycles and access counts of ``workload`` on ``accelerator`` (see module docs).

    Parameters
    ----------
    accelerator : Accelerator
    workload : LayerWorkload

    Returns
    -------
    LayerCost
    """
    rows, cols = accelerator.pe_array.rows, accelerator.pe_array.cols
    load_cycles = _ceil_div(workload.weight_bits_total, accelerator.word_bits)
    if workload.kind in ARRAY_KINDS:
        col_folds = _ceil_div(workload.out_channels // workload.groups, cols)
        tiles = workload.groups * _ceil_div(workload.reduction_length, rows) * col_folds
        compute_cycles = tiles * (2 * rows + cols + workload.output_pixels - 2)
        input_reads = workload.act_in * col_folds
    else:
        compute_cycles = _ceil_div(max(workload.act_in, workload.act_out), cols)
        input_reads = workload.act_in
    gated = workload.zero_fraction if accelerator.zero_gating else 0.0
    return LayerCost(
        cycles=max(compute_cycles, load_cycles),
        weight_bits_read=workload.weight_bits_total,
        act_bits_read=input_reads * workload.act_bits,
        act_bits_written=workload.act_out * workload.act_bits,
        macs_executed=workload.macs * (1.0 - gated),
    )


class _EnergySums:
    """Derived sums shared by a layer's and a whole inference's energy."""

    @property
    def weight_mem_j(self):
        """Weight SRAM energy, dynamic plus leakage (DESIGN.md's ``weight_mem_energy_j``)."""
        return self.weight_mem_dynamic_j + self.weight_mem_leakage_j

    @property
    def total_j(self):
        """Total energy (DESIGN.md's ``energy_j`` for a whole inference)."""
        return self.weight_mem_j + self.act_mem_j + self.mac_j


@dataclass(frozen=True)
class LayerEnergy(_EnergySums):
    """Cycles, latency and energy of one layer; energies in joules."""

    name: str
    kind: str
    cycles: int
    latency_s: float
    weight_bits_read: int
    act_bits_read: int
    act_bits_written: int
    macs_executed: float
    weight_mem_dynamic_j: float
    weight_mem_leakage_j: float
    act_mem_j: float
    mac_j: float

    def to_dict(self):
        """Fields and the derived ``weight_mem_j``, ``total_j``."""
        return {**asdict(self), "weight_mem_j": self.weight_mem_j, "total_j": self.total_j}


@dataclass(frozen=True)
class EnergyBreakdown(_EnergySums):
    """Energy per inference at one supply, in joules, with latency and per layer.

    Attributes
    ----------
    vdd_v, vdd_nominal_v : float
        Swept and nominal supply (volts).
    weight_vdd_v : float
        Supply of the weight SRAM (``vdd_v`` unless its domain is nominal).
    clock_hz : float
        Clock frequency at ``weight_vdd_v``.
    cycles : int
    latency_s : float
    weight_sram_bits : int
        Bits of weight SRAM that leak: ``max(capacity_bits, stored bits)``.
    weight_mem_dynamic_j, weight_mem_leakage_j, act_mem_j, mac_j : float
    per_layer : tuple of LayerEnergy
        In the order of the workloads; each energy sums to the total's.
    """

    vdd_v: float
    vdd_nominal_v: float
    weight_vdd_v: float
    clock_hz: float
    cycles: int
    latency_s: float
    weight_sram_bits: int
    weight_mem_dynamic_j: float
    weight_mem_leakage_j: float
    act_mem_j: float
    mac_j: float
    per_layer: tuple

    def to_dict(self):
        """JSON-ready dict: every field, ``weight_mem_j``, ``total_j``, layers as dicts."""
        data = {field.name: getattr(self, field.name) for field in fields(self)}
        data.update(weight_mem_j=self.weight_mem_j, total_j=self.total_j,
                    per_layer=[layer.to_dict() for layer in self.per_layer])
        return data


def inference_energy(accelerator, workloads, weight_energy, vdd_v, vdd_nominal_v):
    """Energy and latency of one inference; see :meth:`Accelerator.energy`."""
    workloads = _checked_workloads(workloads)
    if weight_energy is not None and not isinstance(weight_energy, EnergyModel):
        raise AcceleratorError(
            f"weight_energy = {weight_energy!r}: expected an accelsim.sram.EnergyModel "
            "(a profile's .energy)")
    vdd_v = check_real("vdd_v", vdd_v, positive=True, meaning="supply in volts")
    vdd_nominal_v = check_real("vdd_nominal_v", vdd_nominal_v, positive=True,
                               meaning="nominal supply in volts")
    swept = accelerator.weight_memory.voltage_domain == "swept"
    weight_vdd_v = vdd_v if swept else vdd_nominal_v
    clock_hz = accelerator.clock_hz
    if accelerator.alpha_power is not None:
        clock_hz *= accelerator.alpha_power.frequency_scale(weight_vdd_v, vdd_nominal_v)

    weight_energy = accelerator.weight_energy_model(weight_energy)
    costs = [layer_cost(accelerator, workload) for workload in workloads]
    stored_bits = sum(cost.weight_bits_read for cost in costs)
    sram_bits = max(accelerator.weight_memory.capacity_bits, stored_bits)
    read_j_per_bit = weight_energy.read_energy_j(1, weight_vdd_v, vdd_nominal_v)
    leakage_w = weight_energy.leakage_power_w(sram_bits, weight_vdd_v, vdd_nominal_v)
    act = accelerator.activation_memory
    layers = tuple(
        _layer_energy(workload, cost, accelerator, clock_hz, read_j_per_bit, leakage_w, act)
        for workload, cost in zip(workloads, costs, strict=True))
    return EnergyBreakdown(
        vdd_v=vdd_v,
        vdd_nominal_v=vdd_nominal_v,
        weight_vdd_v=weight_vdd_v,
        clock_hz=clock_hz,
        cycles=sum(layer.cycles for layer in layers),
        latency_s=math.fsum(layer.latency_s for layer in layers),
        weight_sram_bits=sram_bits,
        weight_mem_dynamic_j=math.fsum(layer.weight_mem_dynamic_j for layer in layers),
        weight_mem_leakage_j=math.fsum(layer.weight_mem_leakage_j for layer in layers),
        act_mem_j=math.fsum(layer.act_mem_j for layer in layers),
        mac_j=math.fsum(layer.mac_j for layer in layers),
        per_layer=layers,
    )


def _layer_energy(workload, cost, accelerator, clock_hz, read_j_per_bit, leakage_w, act):
    latency_s = cost.cycles / clock_hz
    mac_j = cost.macs_executed * accelerator.mac_energy.mac_energy_j(workload.weight_bits,
                                                                     workload.act_bits)
    return LayerEnergy(
        name=workload.name,
        kind=workload.kind,
        cycles=cost.cycles,
        latency_s=latency_s,
        weight_bits_read=cost.weight_bits_read,
        act_bits_read=cost.act_bits_read,
        act_bits_written=cost.act_bits_written,
        macs_executed=cost.macs_executed,
        weight_mem_dynamic_j=cost.weight_bits_read * read_j_per_bit,
        weight_mem_leakage_j=leakage_w * latency_s,
        act_mem_j=(cost.act_bits_read * act.read_energy_per_bit_j
                   + cost.act_bits_written * act.write_energy_per_bit_j),
        mac_j=mac_j,
    )


def _checked_workloads(workloads):
    if isinstance(workloads, LayerWorkload):
        workloads = (workloads,)
    try:
        workloads = tuple(workloads)
    except TypeError:
        raise AcceleratorError(f"workloads = {workloads!r}: expected a sequence of "
                               "LayerWorkload (QuantizedModel.workloads())") from None
    if not workloads:
        raise AcceleratorError("workloads is empty: expected at least one LayerWorkload "
                               "(QuantizedModel.workloads())")
    for index, workload in enumerate(workloads):
        if not isinstance(workload, LayerWorkload):
            raise AcceleratorError(f"workloads[{index}] = {workload!r}: expected a LayerWorkload")
    return workloads
