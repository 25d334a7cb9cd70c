"""The parts of an accelerator: memories, PE array, arithmetic energy, clock scaling.

Each part is a frozen dataclass that validates itself and maps to one table
of an accelerator file (``[weight_memory]``, ``[activation_memory]``,
``[pe_array]``, ``[mac_energy]``, ``[alpha_power]``). Error messages name
fields by that path, e.g. ``pe_array.rows``.
"""

import math
from dataclasses import MISSING, asdict, dataclass, fields

from accelsim.accel import technology
from accelsim.accel._validate import (
    AcceleratorError,
    check_bool,
    check_int,
    check_real,
    check_text,
)

__all__ = [
    "WeightMemorySpec",
    "ActivationMemorySpec",
    "PEArray",
    "MacEnergies",
    "AlphaPower",
    "VOLTAGE_DOMAINS",
    "ENERGY_SOURCES",
]

#: ``swept``: the weight SRAM runs at the sweep's supply; ``nominal``: it
#: stays at nominal (a baseline chip without a separate rail).
VOLTAGE_DOMAINS = ("swept", "nominal")
#: ``technology``: the weight SRAM is priced by the accelerator's node like
#: every other SRAM; ``profile``: by the profile's energy block.
ENERGY_SOURCES = ("technology", "profile")


class _Section:
    """Dict round trip shared by the parts; ``SECTION`` names the table."""

    SECTION = ""

    def to_dict(self):
        """Plain dict of the fields, as in the accelerator file's table."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Build from :meth:`to_dict` output; fields with defaults may be omitted.

        Raises
        ------
        AcceleratorError
            If ``data`` is not a dict, misses a required key, has an unknown
            key or a value out of range.
        """
        names = [field.name for field in fields(cls)]
        if not isinstance(data, dict):
            raise AcceleratorError(f"{cls.SECTION} = {data!r}: expected a table with keys "
                                   f"{', '.join(names)}")
        unknown = sorted(str(key) for key in data if key not in names)
        if unknown:
            raise AcceleratorError(f"{cls.SECTION} has unknown key(s) {', '.join(unknown)}; "
                                   f"expected keys among {', '.join(names)}")
        required = [field.name for field in fields(cls)
                    if field.default is MISSING and field.default_factory is MISSING]
        missing = [name for name in required if name not in data]
        if missing:
            raise AcceleratorError(f"{cls.SECTION} lacks key(s) {', '.join(missing)}; "
                                   f"add them to the [{cls.SECTION}] table")
        return cls(**data)


@dataclass(frozen=True)
class WeightMemorySpec(_Section):
    """The weight SRAM, whose supply the sweep lowers.

    Its per-bit energies at nominal come from the accelerator's technology
    (:func:`accelsim.accel.technology.sram_energy_model` at the accelerator's
    node, this capacity and ``word_bits``), or, with ``energy_source =
    "profile"``, from the profile's :class:`accelsim.sram.energy.EnergyModel`
    (a measured chip's values); either scales with the swept voltage. It holds the whole model (weights are stationary across
    inferences and never rewritten); a model larger than ``capacity_bits``
    is assumed to get an SRAM just large enough, and leaks accordingly.

    Parameters
    ----------
    capacity_bits : int
        Capacity in bits (256 KB = 2_097_152 bits in the edge preset).
    voltage_domain : {"swept", "nominal"}, default "swept"
        Whether the SRAM follows the swept supply or stays at nominal.
    energy_source : {"technology", "profile"}, default "technology"
        Where its per-bit energies come from (see above).
    """

    SECTION = "weight_memory"

    capacity_bits: int
    voltage_domain: str = "swept"
    energy_source: str = "technology"

    def __post_init__(self):
        object.__setattr__(self, "capacity_bits", check_int(
            "weight_memory.capacity_bits", self.capacity_bits, minimum=1,
            meaning="weight SRAM size in bits"))
        check_text("weight_memory.voltage_domain", self.voltage_domain, choices=VOLTAGE_DOMAINS)
        check_text("weight_memory.energy_source", self.energy_source, choices=ENERGY_SOURCES)


@dataclass(frozen=True)
class ActivationMemorySpec(_Section):
    """The activation SRAM, always at nominal supply.

    Parameters
    ----------
    capacity_bits : int
        Capacity in bits (64 KB = 524_288 bits in the edge preset).
    read_energy_per_bit_j : float, optional
        Read energy per bit at nominal, in joules. Default: Horowitz's SRAM
        read energy interpolated at ``capacity_bits``
        (:func:`accelsim.accel.technology.sram_read_energy_per_bit_j`;
        0.43 pJ/bit at 64 KB, 45 nm).
    write_energy_per_bit_j : float, optional
        Write energy per bit at nominal, in joules. Default: equal to the
        read energy (Horowitz gives no write figure).
    ideal : bool, default True
        Fault-free: activations are read back exactly as written (activation
        faults are not simulated).
    """

    SECTION = "activation_memory"

    capacity_bits: int
    read_energy_per_bit_j: float | None = None
    write_energy_per_bit_j: float | None = None
    ideal: bool = True

    def __post_init__(self):
        capacity = check_int("activation_memory.capacity_bits", self.capacity_bits, minimum=1,
                             meaning="activation SRAM size in bits")
        horowitz = technology.sram_read_energy_per_bit_j(capacity)
        read = horowitz if self.read_energy_per_bit_j is None else self.read_energy_per_bit_j
        write = read if self.write_energy_per_bit_j is None else self.write_energy_per_bit_j
        object.__setattr__(self, "capacity_bits", capacity)
        object.__setattr__(self, "read_energy_per_bit_j", check_real(
            "activation_memory.read_energy_per_bit_j", read, meaning="joules per bit"))
        object.__setattr__(self, "write_energy_per_bit_j", check_real(
            "activation_memory.write_energy_per_bit_j", write, meaning="joules per bit"))
        check_bool("activation_memory.ideal", self.ideal)


@dataclass(frozen=True)
class PEArray(_Section):
    """A ``rows x cols`` grid of multiply-accumulate units.

    Weight-stationary: each PE holds one weight; inputs flow along the rows
    (``rows`` spans the reduction), partial sums down the columns (``cols``
    spans the output channels).
    """

    SECTION = "pe_array"

    rows: int
    cols: int

    def __post_init__(self):
        for name in ("rows", "cols"):
            object.__setattr__(self, name, check_int(
                f"pe_array.{name}", getattr(self, name), minimum=1, meaning=f"PE {name}"))


@dataclass(frozen=True)
class MacEnergies(_Section):
    """Energy of the arithmetic, at nominal supply.

    Defaults from Horowitz (ISSCC 2014, 45 nm, 0.9 V); see
    :mod:`accelsim.accel.technology`. A MAC of ``wb``-bit weights and
    ``ab``-bit activations costs a multiply of width ``sqrt(wb * ab)`` plus
    an add of ``accumulator_bits``, each by the power law through the 8- and
    32-bit points (:func:`~accelsim.accel.technology.width_energy_j`).

    Parameters
    ----------
    mult_8b_j, mult_32b_j : float
        Multiply energy at 8 and 32 bits, joules (0.2 pJ, 3.1 pJ).
    add_8b_j, add_32b_j : float
        Add energy at 8 and 32 bits, joules (0.03 pJ, 0.1 pJ).
    accumulator_bits : int, default 32
        Width of the accumulating adder.
    """

    SECTION = "mac_energy"

    mult_8b_j: float = technology.MULT_8B_J
    mult_32b_j: float = technology.MULT_32B_J
    add_8b_j: float = technology.ADD_8B_J
    add_32b_j: float = technology.ADD_32B_J
    accumulator_bits: int = 32

    def __post_init__(self):
        for name in ("mult_8b_j", "mult_32b_j", "add_8b_j", "add_32b_j"):
            object.__setattr__(self, name, check_real(
                f"mac_energy.{name}", getattr(self, name), positive=True, meaning="joules"))
        object.__setattr__(self, "accumulator_bits", check_int(
            "mac_energy.accumulator_bits", self.accumulator_bits, minimum=1, maximum=64))

    @classmethod
    def at_node(cls, node_nm, vdd_nominal_v, accumulator_bits=32):
        """Horowitz's 45 nm, 0.9 V energies scaled to a node and supply (:func:`technology.node_scale`)."""
        scale = technology.node_scale(node_nm, vdd_nominal_v)
        return cls(mult_8b_j=technology.MULT_8B_J * scale, mult_32b_j=technology.MULT_32B_J * scale,
                   add_8b_j=technology.ADD_8B_J * scale, add_32b_j=technology.ADD_32B_J * scale,
                   accumulator_bits=accumulator_bits)

    def mac_energy_j(self, weight_bits, act_bits):
        """Energy of one MAC of ``weight_bits`` x ``act_bits`` operands, joules."""
        multiply = technology.width_energy_j(math.sqrt(weight_bits * act_bits),
                                             self.mult_8b_j, self.mult_32b_j)
        accumulate = technology.width_energy_j(self.accumulator_bits, self.add_8b_j,
                                               self.add_32b_j)
        return multiply + accumulate


@dataclass(frozen=True)
class AlphaPower(_Section):
    """Clock slowdown at low supply, after Sakurai and Newton's alpha-power law.

    Gate delay grows as ``V / (V - Vth) ** alpha`` (T. Sakurai, A. R. Newton,
    IEEE JSSC 25(2), 1990), so the clock runs at
    ``f(V) = f_nom * [(V - Vth) ** alpha / V] / [(Vnom - Vth) ** alpha / Vnom]``.
    The weight SRAM sits on the critical path, so its (swept) supply sets
    the whole accelerator's clock.

    Parameters
    ----------
    alpha : float, default 1.3
        Velocity-saturation index (about 1.3 in short-channel CMOS).
    vth_v : float, default 0.3
        Threshold voltage in volts; the supply must stay above it.
    """

    SECTION = "alpha_power"

    alpha: float = 1.3
    vth_v: float = 0.3

    def __post_init__(self):
        object.__setattr__(self, "alpha", check_real(
            "alpha_power.alpha", self.alpha, positive=True, meaning="velocity-saturation index"))
        object.__setattr__(self, "vth_v", check_real(
            "alpha_power.vth_v", self.vth_v, meaning="threshold voltage in volts"))

    def frequency_scale(self, vdd_v, vdd_nominal_v):
        """Clock frequency at ``vdd_v`` relative to that at ``vdd_nominal_v``.

        Raises
        ------
        AcceleratorError
            If either voltage is at or below ``vth_v``.
        """
        for name, value in (("vdd_v", vdd_v), ("vdd_nominal_v", vdd_nominal_v)):
            if value <= self.vth_v:
                raise AcceleratorError(
                    f"{name} = {value!r} V is at or below alpha_power.vth_v = {self.vth_v} V: "
                    "the alpha-power clock model needs a supply above the threshold; raise "
                    "the voltage or lower vth_v")

        def speed(v):
            # (v - vth)^alpha / v as (v - vth)^(alpha - 1) * (1 - vth / v): for alpha >= 1 both factors are
            # rounded monotone functions of v, so round-off cannot make a lower supply clock faster.
            return (v - self.vth_v) ** (self.alpha - 1.0) * (1.0 - self.vth_v / v)

        if vdd_v == vdd_nominal_v:
            return 1.0
        ratio = speed(vdd_v) / speed(vdd_nominal_v)
        # The law is increasing in v (its derivative has the sign of (alpha - 1) v + vth > 0 for alpha > 0):
        # a supply below nominal never clocks faster than nominal, whatever the last bit of round-off says.
        return min(ratio, 1.0) if vdd_v < vdd_nominal_v else max(ratio, 1.0)
