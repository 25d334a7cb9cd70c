"""A model whose weight SRAM is split into banks, each with its own supply and protection.

Each bank is its own array: bank ``k`` of chip ``c`` is drawn as chip
``c * n_banks + k`` of the profile (one bank: chip ``c`` itself, so one bank
is exactly today's memory), holding the words of its layers in memory order.
A bank may hold a bit slice of its layers' codes (``bank_bits``; see
:mod:`accelsim.accel.banks`): it stores ``(code >> low) & (2 ** (high - low)
- 1)`` as words of ``high - low`` bits, and a run puts each slice read back
into its bits of the codes. A run reads every bank at its voltage (decoding it under its protection),
patches the clean weights with the words that differ, and re-runs the
network from the first changed layer, like :class:`Evaluator`.

The activation SRAM may run on its own supply (``run(..., act_vdd_v=V)``,
a model quantized with ``act_quant``): below nominal its faults
(:class:`~accelsim.engine.ActivationFaults`) corrupt the layers' input codes,
and the whole network re-runs. The activation SRAM of chip ``c`` is chip
``ACT_CHIP_OFFSET + c`` of the profile, a draw no weight bank of the first
``ACT_CHIP_OFFSET // n_banks`` chips uses.
"""

from dataclasses import dataclass

import numpy as np
import torch

from accelsim.engine.evaluate import Evaluator

__all__ = ["ACT_CHIP_OFFSET", "BankedEvaluator", "BankedRun", "tensor_layer"]

#: The activation SRAM of chip ``c`` is chip ``ACT_CHIP_OFFSET + c`` of the profile.
ACT_CHIP_OFFSET = 2**20


def tensor_layer(name):
    """The layer of a parameter tensor (``conv1.weight`` -> ``conv1``)."""
    return name.rpartition(".")[0] or name


@dataclass(frozen=True, eq=False)
class BankedRun:
    """Logits and the counters of one banked read (summed over banks)."""

    logits: torch.Tensor
    faulty_cells: int
    flipped_bits: int
    corrected_words: int
    detected_words: int
    miscorrected_words: int
    residual_flipped_bits: int
    stored_bits: int = 0
    tiled: bool = False

    def run_result(self, protection="none"):
        """The same as a :class:`~accelsim.engine.RunResult` (``model_ber`` over the banks' cells)."""
        from accelsim.engine.evaluate import RunResult

        return RunResult(logits=self.logits, faulty_cells=self.faulty_cells,
                         flipped_bits=self.flipped_bits,
                         model_ber=self.flipped_bits / self.stored_bits if self.stored_bits else 0.0,
                         stored_bits=self.stored_bits, changed_tensors=(), first_step=0,
                         tiled=self.tiled, protection=protection,
                         corrected_words=self.corrected_words, detected_words=self.detected_words,
                         miscorrected_words=self.miscorrected_words,
                         residual_flipped_bits=self.residual_flipped_bits)


class BankedEvaluator:
    """Runs a :class:`QuantizedModel` on fixed inputs out of banked weight SRAM.

    Parameters
    ----------
    qm : QuantizedModel
    x : Tensor
    profile : Profile
    bank_layers : sequence of sequence of str
        Layers of each bank (every parameter tensor's layer in one bank).
    protections : sequence of str
        Protection of each bank.
    chip, seed : int
    on_detect : {"zero", "keep"}
        A word of a bit slice that its code detects as uncorrectable zeroes
        the whole weight under ``zero``.
    batch_size : int
    bank_bits : sequence of tuple, optional
        ``(low, high)`` bit slice of each bank, or ``()`` for whole codes
        (default: whole codes everywhere). Each bit of a layer's codes must
        be in exactly one of its banks
        (:func:`accelsim.accel.banks.bank_assignment`).
    """

    def __init__(self, qm, x, profile, bank_layers, protections, chip=0, seed=0, on_detect="zero",
                 batch_size=2048, bank_bits=None):
        from accelsim.sram import SimulatedMemory
        from accelsim.sram.protection import ProtectedMemory, parse_protection

        self._qm = qm
        self._chip, self._seed = chip, seed
        self._clean = qm.clean_run(x, batch_size)
        self._logits = Evaluator(qm, self._clean, None, chip)._logits
        self._on_detect = on_detect
        self.profile = profile
        n_banks = len(bank_layers)
        self._slices = [(0, qm.bits) if not bits else tuple(bits)
                        for bits in (bank_bits or [()] * n_banks)]
        self._sliced = any(bank_bits or ())
        owners = {}
        for k, layers in enumerate(bank_layers):
            for layer in layers:
                owners.setdefault(layer, []).append(k)
        self._index, self._memories, self._chips = [], [], []
        for k in range(n_banks):
            ranges = [qm._word_range(t) for t in qm.tensor_names if k in owners.get(tensor_layer(t), ())]
            index = (np.concatenate([np.arange(lo, hi) for lo, hi in ranges]) if ranges
                     else np.empty(0, np.int64))
            self._index.append(index)
            p = parse_protection(protections[k])
            low, high = self._slices[k]
            words, width = self._slice_words(qm.words[index], low, high), high - low
            if index.size == 0:
                self._memories.append(None)
            elif p.kind == "none":
                self._memories.append(SimulatedMemory(profile, words, width, seed=seed))
            else:
                self._memories.append(ProtectedMemory(profile, words, width, p, seed=seed))
            self._chips.append(chip if n_banks == 1 else chip * n_banks + k)
        missing = [t for t in qm.tensor_names if tensor_layer(t) not in owners]
        if missing:
            from accelsim.accel import AcceleratorError

            raise AcceleratorError(f"tensor(s) {', '.join(missing)} in no weight bank")

    def _slice_words(self, words, low, high):
        """Bits ``low..high-1`` of ``words`` (the words themselves for whole codes)."""
        if (low, high) == (0, self._qm.bits):
            return words
        return (words >> words.dtype.type(low)) & words.dtype.type((1 << (high - low)) - 1)

    def _merge_slices(self, parts):
        """The codes that differ from the clean ones once each bank's read slice is put back.

        ``parts``: ``(word_index, slice_words, bank)`` per bank, word indices
        into the model's codes.
        """
        qm = self._qm
        index = np.unique(np.concatenate([i for i, _, _ in parts])) if parts else np.empty(0, np.int64)
        codes = qm.words[index].copy()
        kind = codes.dtype.type
        for word_index, values, k in parts:
            low, high = self._slices[k]
            at = np.searchsorted(index, word_index)
            mask = kind(((1 << (high - low)) - 1) << low)
            codes[at] = (codes[at] & ~mask) | ((values.astype(codes.dtype) << kind(low)) & mask)
        differs = codes != qm.words[index]
        return index[differs], codes[differs]

    @property
    def clean_logits(self):
        return self._clean.logits

    def run(self, bank_vdd_v, act_vdd_v=None):
        """Read every bank at its voltage and run the inputs; a :class:`BankedRun`.

        ``act_vdd_v``: the activation SRAM's supply (None or nominal: fault-free
        activations, as without it); needs a model quantized with ``act_quant``.
        """
        qm = self._qm
        act_faults = None
        if act_vdd_v is not None and float(act_vdd_v) < self.profile.vdd_nominal_v:
            from accelsim.engine.activations import ActivationFaults

            if qm.act_quant is None:
                from accelsim.engine.graph import EngineError

                raise EngineError("an activation SRAM below nominal needs quantized activations: "
                                       "QuantizedModel.from_torch(..., act_quant=ActivationQuantizer(bits))")
            self.profile.check_voltage(float(act_vdd_v))
            act_faults = ActivationFaults(self.profile, float(act_vdd_v), ACT_CHIP_OFFSET + self._chip,
                                          self._seed)
        word_index, words, zero, totals, tiled = self.read_codes(bank_vdd_v)
        touched = np.union1d(word_index, zero)
        changed = qm.tensors_at_bits(touched * qm.bits)
        weights = qm.patched_weights(word_index, words, changed)
        if zero.size:
            weights = dict(weights)
            for name in qm.tensors_at_bits(zero * qm.bits):
                lo, hi = qm._word_range(name)
                weights[name].view(-1)[zero[(zero >= lo) & (zero < hi)] - lo] = 0.0
        logits, _, _ = self._logits(weights, changed, act_faults)
        stored = sum(m.n_bits for m in self._memories if m is not None)
        return BankedRun(logits, *(int(v) for v in totals), stored_bits=int(stored), tiled=tiled)

    def read_codes(self, bank_vdd_v):
        """Read every bank at its voltage: the weight codes that differ from the clean ones.

        Returns
        -------
        word_index : ndarray of int64
            Indices into the model's codes (``qm.words``) that read wrong.
        words : ndarray
            Their codes as read (and decoded), bit slices put back together.
        zero : ndarray of int64
            Codes of words detected uncorrectable (``on_detect="zero"``), sorted.
        totals : ndarray of int64
            Faulty cells, flipped bits, corrected, detected and miscorrected
            words, residual flipped bits, summed over banks.
        tiled : bool
        """
        indices, values, zero, read_banks = [], [], [], []
        totals = np.zeros(6, np.int64)
        tiled = False
        for k, memory in enumerate(self._memories):
            if memory is None:
                continue
            index, vdd, chip = self._index[k], float(bank_vdd_v[k]), self._chips[k]
            if hasattr(memory, "read_sparse"):
                read = memory.read_sparse(vdd, chip)
                differs = read.words != memory.words[read.word_index]
                local, words = read.word_index[differs], read.words[differs]
                totals += [read.faulty_cells, read.flipped_bits, 0, 0, 0, read.flipped_bits]
            else:
                read = memory.read(vdd, chip, self._on_detect)
                local, words = read.word_index, read.words
                if self._on_detect == "zero":
                    zero.append(index[read.detected_index])
                totals += [read.faulty_cells, read.flipped_bits, read.corrected_words,
                           read.detected_words, read.miscorrected_words, read.residual_flipped_bits]
            tiled = tiled or bool(read.tiled)
            indices.append(index[local])
            values.append(words)
            read_banks.append(k)
        if self._sliced:
            word_index, words = self._merge_slices(list(zip(indices, values, read_banks, strict=True)))
        else:
            word_index = np.concatenate(indices) if indices else np.empty(0, np.int64)
            words = np.concatenate(values) if values else self._qm.words[:0]
        zero = np.unique(np.concatenate(zero)) if zero else np.empty(0, np.int64)
        return word_index, words, zero, totals, tiled
