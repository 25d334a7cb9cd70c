"""Evaluate one quantized model on one chip, one voltage at a time.

The evaluator runs the clean quantized network once, keeping the activations
that are live at the start of each layer (within a memory budget). A faulty
read then re-runs only from the first layer whose weights changed, starting
from the cached clean activations: the result is bit-identical to a full run
because the leading layers see exactly the clean weights.
"""

from dataclasses import dataclass

import torch

from accelsim.engine import sparse
from accelsim.engine._batching import map_batches
from accelsim.quant import QuantScheme

__all__ = ["RunResult", "CleanRun", "Evaluator"]


@dataclass(frozen=True, eq=False)
class RunResult:
    """The outcome of one inference pass out of faulty memory.

    Attributes
    ----------
    logits : Tensor
        ``N x classes``.
    faulty_cells : int
        Cells of the model's footprint that are faulty at this voltage.
    flipped_bits : int
        Stored bits whose read value differs from the written one.
    model_ber : float
        ``flipped_bits / stored_bits``.
    stored_bits : int
    changed_tensors : tuple of str
        Parameter tensors with at least one faulty cell.
    first_step : int
        Index of the first program step that reads a changed weight (the
        number of steps when no weight changed); also :attr:`first_changed_step`.
    tiled : bool
        True when the model is larger than a measured chip, which repeats.
    protection : str
        The protection scheme (``none``: unprotected).
    corrected_words, detected_words, miscorrected_words, residual_flipped_bits : int
        What the decoder did (:mod:`accelsim.sram.protection`); 0 and
        ``flipped_bits`` for ``none``. With protection, ``faulty_cells``,
        ``flipped_bits`` and ``model_ber`` count the cells of the swept array,
        check bits included (``stored_bits`` is that array's size).
    first_executed_step : int
        Index of the first step actually executed: the latest cached cut at
        or before ``first_step`` (0: the whole network ran; the number of
        steps: nothing ran, the clean logits were reused).
    erred_scale_words : int
        Words holding a per-group scale, zero point or shared exponent
        (:mod:`accelsim.quant.formats`) that read back wrong.
    nonfinite_weights : int
        Weights that decode to inf or NaN (a flipped floating-point exponent);
        the engine propagates them as hardware would.
    """

    logits: torch.Tensor
    faulty_cells: int
    flipped_bits: int
    model_ber: float
    stored_bits: int
    changed_tensors: tuple
    first_step: int
    tiled: bool
    protection: str = "none"
    corrected_words: int = 0
    detected_words: int = 0
    miscorrected_words: int = 0
    residual_flipped_bits: int = -1
    first_executed_step: int = 0
    erred_scale_words: int = 0
    nonfinite_weights: int = 0

    def __post_init__(self):
        if self.residual_flipped_bits < 0:  # unprotected: every flipped bit is delivered
            object.__setattr__(self, "residual_flipped_bits", int(self.flipped_bits))

    @property
    def first_changed_step(self) -> int:
        """The first step reading a changed weight (same as ``first_step``)."""
        return self.first_step


def _nbytes(value):
    """Bytes held by a cached value: a tensor, or a tuple of them (split, attention), or a size."""
    if isinstance(value, torch.Tensor):
        return value.element_size() * value.numel()
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    return 0


class CleanRun:
    """The clean quantized network on fixed inputs: logits and cached activations.

    Shared by the evaluators of every chip of one model, so the clean pass
    runs once per (model, inputs).

    Parameters
    ----------
    program : Program
    weights : mapping of str to Tensor
        The clean dequantized weights.
    x : Tensor
        Inputs, evaluated in batches of ``batch_size``.
    batch_size : int
    cache_bytes : int
        Budget for cached clean activations (0 disables suffix execution).
    transform : callable, optional
        Activation quantization of layer inputs (see :meth:`Program.run`).
    execution : {"float", "integer"}
        How ``transform`` executes the layers (recorded, so that runs with
        faulty activations use the same).
    """

    def __init__(self, program, weights, x, batch_size=2048, cache_bytes=1 << 30, transform=None,
                 execution="float"):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.program = program
        self.transform = transform
        self.execution = execution
        self.x = x
        self._weights = weights
        self.batches = torch.split(x, batch_size)
        self.cuts = self._choose_cuts(cache_bytes)
        self._cache = None
        self._logits = None

    def _choose_cuts(self, cache_bytes):
        """Layer steps to start from, latest first, whose live values fit the budget."""
        if cache_bytes <= 0 or len(self.x) == 0:
            return ()
        program = self.program
        names = {n for i in program.layer_steps for n in program.live_before(i)}
        _, sample = program.run(self.x[:1], self._weights, keep=names, transform=self.transform)
        per_sample = {n: _nbytes(v) for n, v in sample.items()}
        chosen, kept, used = [], set(), 0
        for i in reversed(program.layer_steps[1:]):
            live = set(program.live_before(i))
            extra = sum(per_sample.get(n, 0) for n in live - kept) * len(self.x)
            if used + extra > cache_bytes:
                continue
            chosen.append(i)
            kept |= live
            used += extra
        return tuple(sorted(chosen))

    def plan_starts(self, firsts):
        """Before the clean pass: cache only the cuts that runs changed from steps ``firsts`` start at.

        Those runs start where they would have (the latest cut at or before
        each first changed step), and activations no run reads are not kept.
        Without effect once the clean pass has run.
        """
        if self._logits is None:
            self.cuts = tuple(sorted({c for c in map(self.start_for, firsts) if c}))

    @property
    def logits(self):
        """Logits of the clean quantized model (computed once, filling the cache)."""
        if self._logits is None:
            keep = {n for i in self.cuts for n in self.program.live_before(i)}
            runs = map_batches(lambda batch: self.program.run(batch, self._weights, keep=keep,
                                                              transform=self.transform), self.batches)
            self._logits = torch.cat([logits for logits, _ in runs])
            self._cache = [kept for _, kept in runs]
        return self._logits

    def start_for(self, first, transform=None):
        """The step :meth:`run_from` starts executing at for a change at step ``first``."""
        if transform is not None and transform is not self.transform:
            return 0
        return max((c for c in self.cuts if c <= first), default=0)

    def rows(self, batches):
        """The input rows (a slice) of the consecutive ``batches`` (a range of batch indices)."""
        sizes = [len(b) for b in self.batches]
        return slice(sum(sizes[:batches.start]), sum(sizes[:batches.stop]))

    def run_from(self, first, weights, transform=None, batches=None):
        """Logits with ``weights``, executing from the latest cached cut at or before step ``first``.

        A ``transform`` other than the clean one (faulty activations) changes
        every layer, so the run starts from the input. ``batches`` (a range
        of batch indices) runs only those batches (default: all).
        """
        if transform is None:
            transform = self.transform
        start = self.start_for(first, transform)
        if start:
            _ = self.logits  # fills the cache
        live = self.program.live_before(start) if start else ()

        def run(b):
            env = {n: self._cache[b][n] for n in live} if start else None
            return self.program.run(self.batches[b], weights, start=start, env=env, transform=transform)[0]

        return torch.cat(map_batches(run, range(len(self.batches)) if batches is None else batches))


class Evaluator:
    """Runs a :class:`QuantizedModel` on fixed inputs in one chip of a memory.

    Create through :meth:`QuantizedModel.evaluator`.

    Parameters
    ----------
    qm : QuantizedModel
    clean : CleanRun
        The clean pass on the inputs (shared across chips).
    memory : SimulatedMemory
        Holds ``qm``'s words in a profile.
    chip : int
    on_detect : {"zero", "keep"}
        Policy for detected words of a protected memory.
    """

    def __init__(self, qm, clean, memory, chip, on_detect="zero"):
        self._qm = qm
        self._clean = clean
        self._memory = memory
        self.chip = int(chip)
        self._on_detect = on_detect

    @property
    def clean_logits(self):
        """Logits of the clean quantized model."""
        return self._clean.logits

    def faulty_cells(self, vdd_v):
        """Cells of the model's footprint faulty at ``vdd_v`` (no inference)."""
        return int(self._memory.faulty_cells(vdd_v, self.chip))

    def run(self, vdd_v, act_faults=None, *, batches=None) -> RunResult:
        """Read the weights at ``vdd_v`` and run the inputs through the faulty network.

        ``act_faults`` (:class:`~accelsim.engine.activations.ActivationFaults`)
        also corrupts the quantized activations in the activation SRAM.
        ``batches`` (a range of batch indices of the clean run) evaluates
        only those batches' inputs; ``logits`` then hold their rows
        (:meth:`CleanRun.rows`).
        """
        if not hasattr(self._memory, "read_sparse"):  # protected: decoded words
            return self._run_protected(vdd_v, act_faults, batches)
        if act_faults is None and batches is None and sparse.runs_large(self._qm):
            # 10^8 parameters: only the faulty words are read and written (accelsim.engine.sparse).
            logits, faulty, flipped, changed, first, tiled, nonfinite, erred_scale = sparse.run_in_place(self, vdd_v)
            stored = self._qm.stored_bits
            return RunResult(logits=logits, faulty_cells=faulty, flipped_bits=flipped,
                             model_ber=flipped / stored, stored_bits=stored, changed_tensors=changed,
                             first_step=first, tiled=tiled, nonfinite_weights=nonfinite,
                             first_executed_step=self._clean.start_for(first), erred_scale_words=erred_scale)
        read = self._memory.read_sparse(vdd_v, self.chip)
        differs = read.words != self._qm.words[read.word_index]
        changed = self._qm.tensors_at_bits(read.fault_bits[differs])
        weights = self._qm.patched_weights(read.word_index[differs], read.words[differs], changed)
        logits, first, executed = self._logits(weights, changed, act_faults, batches)
        stored = self._qm.stored_bits
        nonfinite = 0
        if changed and not isinstance(self._qm.scheme, QuantScheme):
            nonfinite = sum(int((~torch.isfinite(weights[name])).sum()) for name in changed)
        return RunResult(logits=logits, faulty_cells=int(read.faulty_cells),
                         flipped_bits=int(read.flipped_bits),
                         model_ber=read.flipped_bits / stored, stored_bits=stored,
                         changed_tensors=changed, first_step=first, tiled=bool(read.tiled),
                         first_executed_step=executed,
                         erred_scale_words=self._qm.aux_words(read.word_index[differs]),
                         nonfinite_weights=nonfinite)

    def _run_protected(self, vdd_v, act_faults, batches=None):
        from accelsim.engine.protected import protected_weights

        read = self._memory.read(vdd_v, self.chip, self._on_detect)
        weights, changed = protected_weights(self._qm, read, self._on_detect)
        logits, first, executed = self._logits(weights, changed, act_faults, batches)
        stored = self._memory.stored_bits
        return RunResult(logits=logits, faulty_cells=read.faulty_cells,
                         flipped_bits=read.flipped_bits,
                         model_ber=read.flipped_bits / stored if stored else 0.0, stored_bits=stored,
                         changed_tensors=changed, first_step=first, tiled=read.tiled,
                         first_executed_step=executed, protection=self._memory.protection.name,
                         corrected_words=read.corrected_words, detected_words=read.detected_words,
                         miscorrected_words=read.miscorrected_words,
                         residual_flipped_bits=read.residual_flipped_bits)

    def _logits(self, weights, changed, act_faults, batches=None):
        """Logits with ``weights``, the first step reading a changed weight and the first executed step."""
        if act_faults is not None:
            transform = self._qm.activation_transform(act_faults, self._clean.execution)
            logits = self._clean.run_from(0, weights, transform, batches=batches)
            first = executed = 0
        elif not changed:
            logits, first = self._clean.logits, len(self._clean.program.steps)
            executed = first
            if batches is not None:
                logits = logits[self._clean.rows(batches)]
        else:
            first = self._clean.program.first_step_reading(changed)
            executed = self._clean.start_for(first)
            logits = self._clean.run_from(first, weights, batches=batches)
        return logits, first, executed
