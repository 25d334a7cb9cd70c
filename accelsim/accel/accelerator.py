"""The accelerator description: a frozen dataclass, its dict/TOML form and presets.

An accelerator file is TOML::

    schema_version = 1
    name = "edge"
    node_nm = 14           # technology node: prices every SRAM and the MACs
    vdd_nominal_v = 0.8    # nominal supply of that node
    word_bits = 64
    clock_hz = 200e6
    zero_gating = true

    [weight_memory]        # WeightMemorySpec
    capacity_bits = 2097152
    [activation_memory]    # ActivationMemorySpec
    capacity_bits = 524288
    [pe_array]             # PEArray
    rows = 16
    cols = 16
    [mac_energy]           # MacEnergies, optional (absent: Horowitz scaled to node_nm)
    [alpha_power]          # AlphaPower, optional (absent: fixed clock)
    [[weight_banks]]       # WeightBank, optional, repeatable (accelsim.accel.banks)
    [decoder_energy_j]     # optional: "secded:64" = 7e-13, ... (accelsim.sram.protection)

Energies absent from the file (the activation SRAM's per-bit energies, the
``[mac_energy]`` table) are derived from the node: the activation SRAM by
:func:`accelsim.accel.technology.sram_energy_model` at its capacity and
``word_bits``, the MACs by :meth:`MacEnergies.at_node`; the weight SRAM's
likewise unless ``weight_memory.energy_source = "profile"``. Presets:
:data:`PRESETS`.
"""

import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

from accelsim.accel import technology
from accelsim.accel._validate import (
    AcceleratorError,
    check_bool,
    check_int,
    check_real,
    check_text,
)
from accelsim.accel.banks import WeightBank
from accelsim.accel.energy import inference_energy
from accelsim.accel.specs import (
    ActivationMemorySpec,
    AlphaPower,
    MacEnergies,
    PEArray,
    WeightMemorySpec,
)

__all__ = ["Accelerator", "default_accelerator", "accelerator_preset", "load_accelerator", "PRESETS",
           "SCHEMA_VERSION"]

#: Shipped presets (``accelsim/accel/presets/NAME.toml``): ``edge`` (the
#: default, 14 nm like the shipped 14 nm profiles), ``edge-45nm`` (the same
#: design at Horowitz's 45 nm) and ``eyeriss`` (65 nm, Eyeriss-like).
PRESETS = ("edge", "edge-45nm", "eyeriss")

SCHEMA_VERSION = 1

# Nested tables: field name -> part class. Everything else is a scalar.
_PARTS = {
    "weight_memory": WeightMemorySpec,
    "activation_memory": ActivationMemorySpec,
    "pe_array": PEArray,
    "mac_energy": MacEnergies,
    "alpha_power": AlphaPower,
}
_REQUIRED = ("weight_memory", "activation_memory", "pe_array", "word_bits", "clock_hz")


@dataclass(frozen=True, kw_only=True)
class Accelerator:
    """A DNN accelerator whose weight SRAM runs at the swept supply.

    Parameters
    ----------
    weight_memory : WeightMemorySpec
        The weight SRAM (its energy per bit comes from the profile).
    activation_memory : ActivationMemorySpec
        The activation SRAM, at nominal supply.
    pe_array : PEArray
        The MAC grid.
    word_bits : int
        Width of the weight SRAM port: bits delivered per cycle.
    clock_hz : float
        Clock frequency at nominal supply, in hertz.
    mac_energy : MacEnergies, optional
        Arithmetic energies (default: Horowitz, ISSCC 2014, 45 nm; an
        accelerator file without the table gets them scaled to ``node_nm``).
    zero_gating : bool, default False
        Skip MACs whose input activation is zero (saves energy, not time).
    alpha_power : AlphaPower or None, default None
        Slow the clock at low weight SRAM supply; None keeps it fixed.
    name : str, default "custom"
    node_nm : float, default 45
        Technology node, nanometres: the weight SRAM's energies (with
        ``energy_source = "technology"``) come from it.
    vdd_nominal_v : float, default 0.9
        Nominal supply of the node, volts, at which its energies hold.
    weight_banks : tuple of WeightBank, default ()
        Voltage domains of the weight SRAM (:mod:`accelsim.accel.banks`);
        empty: one bank, the whole ``weight_memory``.
    decoder_energy_j : dict, optional
        Decoder energy per codeword read by protection name, overriding
        :data:`accelsim.sram.protection.DECODER_ENERGY_J`.

    Raises
    ------
    AcceleratorError
        If a field has the wrong type or is out of range.

    Notes
    -----
    Built from a file (:meth:`from_dict`, :meth:`from_toml`), every energy
    the file leaves out is derived from ``node_nm`` and ``vdd_nominal_v``, so
    that all components are priced at one node. Built directly, the parts
    carry what they are given (``MacEnergies()`` and an
    ``ActivationMemorySpec`` without energies are 45 nm figures).
    """

    weight_memory: WeightMemorySpec
    activation_memory: ActivationMemorySpec
    pe_array: PEArray
    word_bits: int
    clock_hz: float
    mac_energy: MacEnergies = MacEnergies()
    zero_gating: bool = False
    alpha_power: AlphaPower | None = None
    name: str = "custom"
    node_nm: float = 45.0
    vdd_nominal_v: float = 0.9
    weight_banks: tuple = ()
    decoder_energy_j: dict | None = None

    def __post_init__(self):
        _check_banks_and_decoders(self)
        for name, part in _PARTS.items():
            value = getattr(self, name)
            if not isinstance(value, part) and not (name == "alpha_power" and value is None):
                raise AcceleratorError(f"{name} = {value!r}: expected a {part.__name__}")
        object.__setattr__(self, "word_bits", check_int(
            "word_bits", self.word_bits, minimum=1, meaning="weight SRAM port width in bits"))
        object.__setattr__(self, "clock_hz", check_real(
            "clock_hz", self.clock_hz, positive=True, meaning="clock frequency in hertz"))
        check_bool("zero_gating", self.zero_gating)
        check_text("name", self.name)
        object.__setattr__(self, "node_nm", check_real(
            "node_nm", self.node_nm, positive=True, meaning="technology node in nanometres"))
        object.__setattr__(self, "vdd_nominal_v", check_real(
            "vdd_nominal_v", self.vdd_nominal_v, positive=True, meaning="nominal supply in volts"))

    def weight_energy_model(self, profile_energy=None):
        """Per-bit energies of the weight SRAM at nominal supply.

        Parameters
        ----------
        profile_energy : accelsim.sram.EnergyModel, optional
            The profile's energy block, used when
            ``weight_memory.energy_source == "profile"``.

        Returns
        -------
        accelsim.sram.EnergyModel
        """
        if self.weight_memory.energy_source == "profile":
            if profile_energy is None:
                raise AcceleratorError('weight_memory.energy_source = "profile" needs a profile\'s '
                                       "energy model; pass the profile")
            return profile_energy
        return technology.sram_energy_model(self.weight_memory.capacity_bits, self.word_bits,
                                            self.node_nm, self.vdd_nominal_v)

    def energy(self, workloads, weight_energy, vdd_v, vdd_nominal_v):
        """Energy and latency of one inference at batch size 1.

        The cost model is documented in :mod:`accelsim.accel.energy`.

        Parameters
        ----------
        workloads : sequence of LayerWorkload
            The network's layers in execution order
            (``QuantizedModel.workloads()``).
        weight_energy : accelsim.sram.EnergyModel
            Per-bit energies of the weight SRAM (a profile's ``energy``).
        vdd_v : float
            Swept supply of the weight SRAM, in volts.
        vdd_nominal_v : float
            Nominal supply, in volts: activation SRAM and MACs run there.

        Returns
        -------
        EnergyBreakdown

        Raises
        ------
        AcceleratorError
            If ``workloads`` is empty or not LayerWorkloads, a voltage is not
            positive, or (with ``alpha_power``) a voltage is not above
            ``alpha_power.vth_v``.
        """
        return inference_energy(self, workloads, weight_energy, vdd_v, vdd_nominal_v)

    def to_dict(self):
        """JSON- and TOML-ready dict with ``schema_version``; parts as nested dicts."""
        data = {"schema_version": SCHEMA_VERSION}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name in _PARTS:
                if value is not None:
                    data[field.name] = value.to_dict()
            elif field.name == "weight_banks":
                if value:
                    data[field.name] = [bank.to_dict() for bank in value]
            elif field.name == "decoder_energy_j":
                if value:
                    data[field.name] = dict(value)
            else:
                data[field.name] = value
        return data

    @classmethod
    def from_dict(cls, data):
        """Build from :meth:`to_dict` output (or a parsed accelerator file).

        Raises
        ------
        AcceleratorError
            If ``schema_version`` is not 1, a required key is missing, a key
            is unknown or a value is invalid.
        """
        if not isinstance(data, dict):
            raise AcceleratorError(f"accelerator = {data!r}: expected a dict (table)")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise AcceleratorError(
                f"schema_version = {version!r}: expected {SCHEMA_VERSION}; add "
                f"'schema_version = {SCHEMA_VERSION}' at the top of the accelerator file")
        names = [field.name for field in fields(cls)]
        unknown = sorted(str(key) for key in data if key not in names and key != "schema_version")
        if unknown:
            raise AcceleratorError(f"unknown key(s) {', '.join(unknown)}; expected keys among "
                                   f"schema_version, {', '.join(names)}")
        missing = [name for name in _REQUIRED if name not in data]
        if missing:
            raise AcceleratorError(f"missing key(s) {', '.join(missing)}; an accelerator needs "
                                   f"{', '.join(_REQUIRED)}")
        kwargs = {}
        for name in names:
            if name not in data:
                continue
            value = data[name]
            if name in _PARTS and value is not None:
                value = _PARTS[name].from_dict(value)
            elif name == "weight_banks":
                if not isinstance(value, list):
                    raise AcceleratorError(f"weight_banks = {value!r}: expected [[weight_banks]] tables")
                value = tuple(WeightBank.from_dict(bank) for bank in value)
            kwargs[name] = value
        return cls(**_at_node(data, kwargs))

    @classmethod
    def from_toml(cls, path):
        """Load an accelerator file (TOML, see the module docs).

        Raises
        ------
        AcceleratorError
            If the file is missing, not valid TOML or not a valid
            accelerator; the message starts with the path.
        """
        path = Path(path)
        try:
            with path.open("rb") as file:
                data = tomllib.load(file)
        except FileNotFoundError:
            raise AcceleratorError(f"{path}: accelerator file not found; give the path of a "
                                   "TOML accelerator description") from None
        except tomllib.TOMLDecodeError as exc:
            raise AcceleratorError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
        try:
            return cls.from_dict(data)
        except AcceleratorError as exc:
            raise AcceleratorError(f"{path}: {exc}") from None

    def to_toml(self):
        """The accelerator file text that :meth:`from_toml` reads back equal."""
        data = self.to_dict()
        banks = data.pop("weight_banks", [])
        scalars = [f"{key} = {_toml_value(value)}" for key, value in data.items()
                   if not isinstance(value, dict)]
        tables = [f"\n[{key}]\n" + "\n".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
                  for key, value in data.items() if isinstance(value, dict)]
        tables += ["\n[[weight_banks]]\n" + "\n".join(f"{k} = {_toml_value(v)}" for k, v in bank.items())
                   for bank in banks]
        return "\n".join(scalars) + "\n" + "\n".join(tables) + "\n"


def _check_banks_and_decoders(accelerator):
    from accelsim.sram.protection import DECODER_ENERGY_J

    banks = accelerator.weight_banks
    if not isinstance(banks, (tuple, list)) or not all(isinstance(b, WeightBank) for b in banks):
        raise AcceleratorError(f"weight_banks = {banks!r}: expected a sequence of WeightBank")
    object.__setattr__(accelerator, "weight_banks", tuple(banks))
    names = [b.name for b in banks]
    if len(set(names)) != len(names):
        raise AcceleratorError(f"weight_banks: bank names {names} repeat; give each bank its own name")
    table = accelerator.decoder_energy_j
    if table is None:
        return
    if not isinstance(table, dict):
        raise AcceleratorError(f"decoder_energy_j = {table!r}: expected a table of joules by protection")
    for key, value in table.items():
        if key not in DECODER_ENERGY_J:
            raise AcceleratorError(f"decoder_energy_j.{key} = {value!r}: expected a key among "
                                   f"{', '.join(DECODER_ENERGY_J)}")
        check_real(f"decoder_energy_j.{key}", value, meaning="decoder energy per codeword in joules")


def _toml_key(key):
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else _toml_value(key)


def _toml_value(value):
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + "".join(_toml_char(char) for char in value) + '"'


def _toml_char(char):
    if char in '"\\':
        return "\\" + char
    if ord(char) < 0x20 or ord(char) == 0x7F:  # control characters must be escaped in TOML
        return f"\\u{ord(char):04x}"
    return char


def _at_node(data, kwargs):
    """Fill the energies a file leaves out from its node (see the module docs)."""
    node_nm = check_real("node_nm", data.get("node_nm", 45.0), positive=True,
                         meaning="technology node in nanometres")
    vdd_v = check_real("vdd_nominal_v", data.get("vdd_nominal_v", 0.9), positive=True,
                       meaning="nominal supply in volts")
    if "mac_energy" not in data:
        kwargs["mac_energy"] = MacEnergies.at_node(node_nm, vdd_v)
    act_table = data["activation_memory"]
    if isinstance(act_table, dict) and ("read_energy_per_bit_j" not in act_table
                                        or "write_energy_per_bit_j" not in act_table):
        act = kwargs["activation_memory"]
        word_bits = data.get("word_bits")
        word_bits = word_bits if isinstance(word_bits, int) and word_bits > 0 else 64
        model = technology.sram_energy_model(act.capacity_bits, word_bits, node_nm, vdd_v)
        kwargs["activation_memory"] = ActivationMemorySpec(
            capacity_bits=act.capacity_bits, ideal=act.ideal,
            read_energy_per_bit_j=act_table.get("read_energy_per_bit_j", model.read_energy_per_bit_j),
            write_energy_per_bit_j=act_table.get("write_energy_per_bit_j", model.write_energy_per_bit_j))
    return kwargs


def accelerator_preset(name):
    """A shipped preset by name (one of :data:`PRESETS`).

    Raises
    ------
    AcceleratorError
        If ``name`` is not a preset.
    """
    if name not in PRESETS:
        raise AcceleratorError(f"accelerator = {name!r}: expected a preset ({', '.join(PRESETS)}) "
                               "or the path of a TOML accelerator file")
    preset = resources.files("accelsim.accel").joinpath("presets", f"{name}.toml")
    with resources.as_file(preset) as path:
        return Accelerator.from_toml(path)


def load_accelerator(name_or_path):
    """A preset name (:data:`PRESETS`) or the path of an accelerator file."""
    if isinstance(name_or_path, str) and name_or_path in PRESETS:
        return accelerator_preset(name_or_path)
    if not Path(name_or_path).exists():
        raise AcceleratorError(f"accelerator = {str(name_or_path)!r}: expected a preset "
                               f"({', '.join(PRESETS)}) or the path of a TOML accelerator file")
    return Accelerator.from_toml(name_or_path)


def default_accelerator():
    """The shipped edge preset (``accelsim/accel/presets/edge.toml``).

    A small edge accelerator at 14 nm, 0.8 V (the node of the shipped 14 nm
    profiles): 16 x 16 PEs at 200 MHz, a 256 KB weight SRAM on the swept
    supply, a 64 KB activation SRAM, a 64-bit weight port, zero gating on,
    fixed clock; every energy from :mod:`accelsim.accel.technology` at 14 nm.

    Returns
    -------
    Accelerator
    """
    return accelerator_preset("edge")
