"""Weight SRAM banks: voltage domains, their layers, and energy with protection overheads.

An accelerator file may split the weight SRAM into banks, each on its own
supply::

    [[weight_banks]]
    name = "early"
    capacity_bits = 65536
    layers = ["conv1", "conv2"]

    [[weight_banks]]
    name = "late"
    capacity_bits = 1048576
    layers = ["fc1", "fc2"]

Every layer with weights must sit in exactly one bank (a layer is the name
of a :class:`~accelsim.accel.LayerWorkload`, the module path of the layer),
or its codes be cut by significance into bit slices held by several banks
(``bits = [low, high]``: bit positions ``low..high-1`` of every code, 0 the
least significant), which together hold each bit exactly once::

    [[weight_banks]]
    name = "msb"
    capacity_bits = 393216
    layers = ["conv1", "fc1"]
    bits = [5, 8]          # the top 3 bits of every 8-bit code

    [[weight_banks]]
    name = "lsb"
    capacity_bits = 655360
    layers = ["conv1", "fc1"]
    bits = [0, 5]

A flipped low bit moves a weight by at most ``2 ** (low + 1) - 1`` codes
while a flipped top bit moves it by half the range, so the low slices
tolerate far lower supplies (the significance-driven SRAM of Yang and
Murmann, ISQED 2017, and Frustaci et al., JSSC 2015); :func:`split_msb`
cuts banks this way.
Without banks the weight SRAM is one bank holding every layer (today's
behaviour). A bank's ``layers`` may be empty in a file and filled by
:func:`split_layers` (contiguous layers, balanced by stored bits).

Energy per bank (:func:`banked_energy`), with the cost model of
:mod:`accelsim.accel.energy`: the bank's stored bits (data plus check bits
or TMR copies, see :mod:`accelsim.sram.protection`) are read once per
inference at the bank's supply; its leakage is that of
``max(capacity_bits, stored bits)`` at its supply over the inference's
latency (a bit slice holds its share ``(high - low) / weight_bits`` of each
layer's bits, protected as words of ``high - low`` bits); bits of an
``msb:K`` protected domain are read and leak at nominal;
the decoder costs a constant per codeword read
(:data:`accelsim.sram.protection.DECODER_ENERGY_J`, overridable by the
accelerator's ``decoder_energy_j`` table). The latency, the activation SRAM
and the MACs are those of :meth:`Accelerator.energy` at the lowest bank
supply (with ``alpha_power`` the slowest bank sets the clock).

The activation SRAM may sit on its own swept domain (``act_vdd_v``): its
energy is the accelerator's (per-bit read and write energies of
:mod:`accelsim.accel.technology` at its node, or the file's) scaled by
``(act_vdd_v / vdd_nominal_v) ** 2``, dynamic energy only, as the
accelerator's activation SRAM model has no leakage term. Its faults are
:class:`accelsim.engine.ActivationFaults` at that voltage
(:class:`accelsim.engine.banked.BankedEvaluator`).
"""

import math
from dataclasses import dataclass

from accelsim._checks import StrOptions, check
from accelsim.accel._validate import AcceleratorError, check_int, check_real, check_text

__all__ = ["BankedEnergy", "WeightBank", "bank_assignment", "banked_energy", "split_layers", "split_msb"]


@dataclass(frozen=True)
class WeightBank:
    """One weight SRAM bank on its own supply.

    Parameters
    ----------
    name : str
    capacity_bits : int
        Bits of SRAM in the bank (leaks even when not full).
    layers : tuple of str
        Layers whose weights the bank holds.
    bits : tuple of int, default ()
        ``(low, high)``: the bank holds bit positions ``low..high-1`` of
        every weight code of its layers (0 the least significant); empty:
        the whole codes.
    """

    name: str
    capacity_bits: int
    layers: tuple = ()
    bits: tuple = ()

    def __post_init__(self):
        check_text("weight_banks.name", self.name)
        object.__setattr__(self, "capacity_bits", check_int(
            f"weight_banks[{self.name!r}].capacity_bits", self.capacity_bits, minimum=1,
            meaning="bank size in bits"))
        layers = self.layers
        if isinstance(layers, str) or not all(isinstance(x, str) for x in layers):
            raise AcceleratorError(f"weight_banks[{self.name!r}].layers = {layers!r}: expected a "
                                   "list of layer names")
        object.__setattr__(self, "layers", tuple(layers))
        bits = self.bits
        if not isinstance(bits, (list, tuple)) or len(bits) not in (0, 2):
            raise AcceleratorError(f"weight_banks[{self.name!r}].bits = {bits!r}: expected [low, high], the "
                                   "bit positions low..high-1 of every code the bank holds (0 the least "
                                   "significant), or no bits key for whole codes")
        if bits:
            low = check_int(f"weight_banks[{self.name!r}].bits[0]", bits[0], minimum=0, maximum=63,
                            meaning="lowest bit position held")
            high = check_int(f"weight_banks[{self.name!r}].bits[1]", bits[1], minimum=low + 1, maximum=64,
                             meaning="one past the highest bit position held, above bits[0]")
            bits = (low, high)
        object.__setattr__(self, "bits", tuple(bits))

    def width(self, word_bits):
        """Bits of each ``word_bits``-bit code that the bank holds."""
        return word_bits if not self.bits else self.bits[1] - self.bits[0]

    def to_dict(self):
        data = {"name": self.name, "capacity_bits": self.capacity_bits, "layers": list(self.layers)}
        if self.bits:
            data["bits"] = list(self.bits)
        return data

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise AcceleratorError(f"weight_banks entry = {data!r}: expected a table")
        unknown = sorted(set(data) - {"name", "capacity_bits", "layers", "bits"})
        if unknown:
            raise AcceleratorError(f"weight_banks: unknown key(s) {', '.join(unknown)}; expected "
                                   "name, capacity_bits, layers, bits")
        if "name" not in data or "capacity_bits" not in data:
            raise AcceleratorError("weight_banks: every bank needs name and capacity_bits")
        return cls(data["name"], data["capacity_bits"], tuple(data.get("layers", ())), data.get("bits", ()))


#: How :func:`split_layers` cuts: at the shares nearest k / n, or minimising the sum of squared bank bits.
SPLIT_METHODS = ("nearest", "balanced")


def split_layers(layer_bits, n_banks, capacity_bits=None, method="nearest"):
    """``n_banks`` banks of contiguous layers, balanced by stored bits.

    Parameters
    ----------
    layer_bits : sequence of (str, int)
        Layers in execution order with their stored bits.
    n_banks : int
        Banks wanted (at most the number of layers).
    capacity_bits : int, optional
        Capacity of the whole weight SRAM, shared in proportion to the bits
        each bank holds (default: each bank exactly its bits).
    method : {"nearest", "balanced"}
        ``nearest`` (the default, unchanged): cut ``k`` falls at the
        cumulative share nearest ``k / n_banks``, one cut after the other;
        it can leave a tiny layer alone in a bank (e.g. a norm layer between
        two big ones). ``balanced``: the contiguous split minimising the sum
        over banks of the squared bits, exactly (dynamic programming), so a
        bank of a few hundred bits only remains where no split does better.

    Returns
    -------
    tuple of WeightBank
    """
    method = check("method", method, StrOptions(SPLIT_METHODS), error=AcceleratorError)
    names = [name for name, _ in layer_bits]
    bits = [int(b) for _, b in layer_bits]
    if not 1 <= n_banks <= len(names):
        raise AcceleratorError(f"--banks = {n_banks!r}: expected an integer from 1 to {len(names)} "
                               "(the model's layers with weights)")
    total = sum(bits)
    prefix = [0]
    for b in bits:
        prefix.append(prefix[-1] + b)
    if method == "balanced":
        cuts = _balanced_cuts(prefix, n_banks)
    else:
        # Greedy cut at the cumulative share closest to k / n_banks, each bank non-empty.
        cuts, start = [], 0
        for k in range(1, n_banks):
            target = total * k / n_banks
            lo, hi = start + 1, len(names) - (n_banks - k)
            best = min(range(lo, hi + 1), key=lambda i: abs(prefix[i] - target))
            cuts.append(best)
            start = best
    bounds = [0, *cuts, len(names)]
    banks = []
    for k in range(n_banks):
        members = tuple(names[bounds[k]:bounds[k + 1]])
        held = prefix[bounds[k + 1]] - prefix[bounds[k]]
        capacity = held if capacity_bits is None else max(1, round(capacity_bits * held / max(total, 1)))
        banks.append(WeightBank(f"bank{k}", max(1, capacity), members))
    return tuple(banks)


def split_msb(banks, msb_bits, word_bits):
    """Each bank cut into two: the top ``msb_bits`` bits of its codes, and the rest.

    Parameters
    ----------
    banks : sequence of WeightBank
        Banks of whole codes.
    msb_bits : int
        Top bits of every code in the first bank of each pair, from 1 to
        ``word_bits - 1``.
    word_bits : int
        Bits per weight code.

    Returns
    -------
    tuple of WeightBank
        ``NAME-msb`` then ``NAME-lsb`` for each bank, in order, each with
        its share of the bank's capacity.
    """
    word_bits = check_int("word_bits", word_bits, minimum=2, meaning="bits per weight code")
    msb_bits = check_int("--msb-split", msb_bits, minimum=1, maximum=word_bits - 1,
                         meaning=f"top bits of every {word_bits}-bit weight code in a bank of their own")
    out = []
    for bank in banks:
        if bank.bits:
            raise AcceleratorError(f"--msb-split: weight_banks[{bank.name!r}] already holds bits "
                                   f"{list(bank.bits)}; drop --msb-split or the bits key")
        low = word_bits - msb_bits
        top = max(1, round(bank.capacity_bits * msb_bits / word_bits))
        out.append(WeightBank(f"{bank.name}-msb", top, bank.layers, (low, word_bits)))
        out.append(WeightBank(f"{bank.name}-lsb", max(1, bank.capacity_bits - top), bank.layers, (0, low)))
    return tuple(out)


def _balanced_cuts(prefix, n_banks):
    """Cuts (layer indices) of the contiguous split into ``n_banks`` minimising the sum of squared bank bits.

    ``prefix``: cumulative bits (``prefix[i]`` = bits of the first ``i``
    layers). Exact dynamic programming over (banks, layers), ``O(n_banks x
    layers^2)``; ties go to the earliest cut.
    """
    count = len(prefix) - 1
    best = [[math.inf] * (count + 1) for _ in range(n_banks + 1)]
    cut = [[0] * (count + 1) for _ in range(n_banks + 1)]
    best[0][0] = 0
    for k in range(1, n_banks + 1):
        for j in range(k, count - (n_banks - k) + 1):
            for i in range(k - 1, j):  # bank k holds layers i..j-1
                cost = best[k - 1][i] + (prefix[j] - prefix[i]) ** 2
                if cost < best[k][j]:
                    best[k][j], cut[k][j] = cost, i
    cuts, j = [], count
    for k in range(n_banks, 1, -1):
        j = cut[k][j]
        cuts.append(j)
    return cuts[::-1]


def bank_assignment(banks, layer_names, word_bits=None):
    """Indices of the banks holding each layer: every bit of its codes in exactly one bank.

    A layer sits in one bank of whole codes, or in bit slices (banks with
    ``bits``) that together hold each of its ``word_bits`` bits once.

    Parameters
    ----------
    banks : sequence of WeightBank
    layer_names : sequence of str
    word_bits : int or dict, optional
        Bits per weight code (or per layer name); needed to check that the
        slices of a layer cover its codes.

    Returns
    -------
    list of tuple of int
        One tuple per layer: its bank, or its slices' banks from the least
        significant up.

    Raises
    ------
    AcceleratorError
        If a bank names an unknown layer, a layer is in two banks of whole
        codes, its slices overlap or leave a bit out, or it is in no bank.
    """
    known = set(layer_names)
    owners = {}
    for i, bank in enumerate(banks):
        for layer in bank.layers:
            if layer not in known:
                raise AcceleratorError(
                    f"weight_banks[{bank.name!r}].layers names {layer!r}, not a layer of the model; "
                    f"expected among {', '.join(layer_names)}")
            held = owners.setdefault(layer, [])
            if held and not (bank.bits and all(banks[j].bits for j in held)):
                raise AcceleratorError(f"layer {layer!r} is in two weight banks "
                                       f"({banks[held[0]].name!r} and {bank.name!r}); give both a bits "
                                       "key to split its codes between them, or drop one")
            held.append(i)
    missing = [name for name in layer_names if name not in owners]
    if missing:
        raise AcceleratorError(f"layer(s) {', '.join(missing)} in no weight bank; add them to "
                               "the layers of a [[weight_banks]] table")
    out = []
    for name in layer_names:
        held = sorted(owners[name], key=lambda j: banks[j].bits[:1])
        out.append(tuple(held))
        if not banks[held[0]].bits:
            continue
        top = 0
        for j in held:
            low, high = banks[j].bits
            if low != top:
                raise AcceleratorError(f"layer {name!r}: its banks' bits {[list(banks[j].bits) for j in held]} "
                                       f"{'overlap' if low < top else 'leave bits out'} at bit {min(low, top)}; "
                                       "give each bit of the codes to exactly one bank")
            top = high
        bits = word_bits.get(name) if isinstance(word_bits, dict) else word_bits
        if bits is not None and top != bits:
            raise AcceleratorError(f"layer {name!r}: its banks hold bits 0..{top - 1} of its {bits}-bit "
                                   f"codes; give bits 0..{bits - 1} to the banks, each bit to exactly one")
    return out


@dataclass(frozen=True)
class BankedEnergy:
    """Energy of one inference with per-bank supplies and protection (joules).

    ``weight_mem_j`` includes check bits, protected domains and decoders;
    ``per_bank_j`` splits it by bank.
    """

    total_j: float
    weight_mem_j: float
    decoder_j: float
    act_mem_j: float
    mac_j: float
    latency_s: float
    per_bank_j: tuple


def banked_energy(accelerator, workloads, weight_energy, bank_vdd_v, vdd_nominal_v, *, banks=None,
                  protections=None, act_vdd_v=None):
    """Energy per inference with one supply and one protection per bank (see module docs).

    Parameters
    ----------
    accelerator : Accelerator
    workloads : sequence of LayerWorkload
    weight_energy : accelsim.sram.EnergyModel
    bank_vdd_v : sequence of float
        Supply of each bank, volts.
    vdd_nominal_v : float
    banks : sequence of WeightBank, optional
        Default: the accelerator's ``weight_banks``, or one bank of
        ``weight_memory.capacity_bits`` holding every layer.
    protections : sequence of str or Protection, optional
        One per bank (default: ``none``).
    act_vdd_v : float, optional
        Supply of the activation SRAM's own domain, volts (default: nominal).

    Returns
    -------
    BankedEnergy
    """
    from accelsim.sram.protection import parse_protection

    workloads = list(workloads)
    # The per-bit energies the accelerator itself prices the weight SRAM with (its node, or the profile's).
    weight_energy = accelerator.weight_energy_model(weight_energy)
    if banks is None:
        banks = accelerator.weight_banks or (WeightBank(
            "weights", accelerator.weight_memory.capacity_bits,
            tuple(w.name for w in workloads)),)
    owners = bank_assignment(banks, [w.name for w in workloads],
                             word_bits={w.name: w.weight_bits for w in workloads})
    bank_vdd_v = [float(v) for v in bank_vdd_v]
    if len(bank_vdd_v) != len(banks):
        raise AcceleratorError(f"bank voltages = {bank_vdd_v!r}: expected {len(banks)} values, "
                               "one per weight bank")
    protections = [parse_protection(p) for p in (protections or ["none"] * len(banks))]
    if len(protections) != len(banks):
        raise AcceleratorError(f"protections = {[p.name for p in protections]!r}: expected "
                               f"{len(banks)} values, one per weight bank")
    swept = accelerator.weight_memory.voltage_domain == "swept"
    if not swept:
        bank_vdd_v = [vdd_nominal_v] * len(banks)
    base = accelerator.energy(workloads, weight_energy, min(bank_vdd_v), vdd_nominal_v)
    latency = base.latency_s
    table = dict(accelerator.decoder_energy_j or {})
    read_nominal = weight_energy.read_energy_j(1, vdd_nominal_v, vdd_nominal_v)
    per_bank, decoder_total = [], 0.0
    for i, bank in enumerate(banks):
        p, vdd = protections[i], bank_vdd_v[i]
        layers = [w for w, held in zip(workloads, owners, strict=True) if i in held]
        dyn = leak = dec = 0.0
        faulty_bits = nominal_bits = 0.0
        for w in layers:
            width = bank.width(w.weight_bits)
            faulty_bits += w.n_weights * p.faulty_bits_per_word(width)
            nominal_bits += w.n_weights * p.nominal_bits_per_word(width)
            dec += p.decoder_energy_j(w.n_weights, width, table)
        dyn = faulty_bits * weight_energy.read_energy_j(1, vdd, vdd_nominal_v) + nominal_bits * read_nominal
        leak = (weight_energy.leakage_power_w(max(bank.capacity_bits, math.ceil(faulty_bits)), vdd,
                                              vdd_nominal_v)
                + (weight_energy.leakage_power_w(math.ceil(nominal_bits), vdd_nominal_v, vdd_nominal_v)
                   if nominal_bits else 0.0)) * latency
        per_bank.append(dyn + leak + dec)
        decoder_total += dec
    weight_mem_j = math.fsum(per_bank)
    act_mem_j = base.act_mem_j
    if act_vdd_v is not None:
        act_vdd_v = check_real("act_vdd_v", act_vdd_v, positive=True,
                               meaning="activation SRAM supply in volts")
        act_mem_j *= (act_vdd_v / vdd_nominal_v) ** 2
    return BankedEnergy(total_j=weight_mem_j + act_mem_j + base.mac_j, weight_mem_j=weight_mem_j,
                        decoder_j=decoder_total, act_mem_j=act_mem_j, mac_j=base.mac_j,
                        latency_s=latency, per_bank_j=tuple(per_bank))
