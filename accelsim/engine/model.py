"""QuantizedModel: a network whose every parameter tensor is fixed-point codes in memory."""

import copy
import hashlib
import json
from collections import OrderedDict

import numpy as np
import torch

from accelsim import quant
from accelsim._checks import StrOptions, check
from accelsim.accel import default_accelerator
from accelsim.engine import sparse
from accelsim.engine.activations import ActivationFaults, ActivationPath
from accelsim.engine.evaluate import CleanRun, Evaluator, RunResult
from accelsim.engine.graph import EngineError, ModelImportError, trace_program
from accelsim.engine.integer import EXECUTIONS, IntegerLayer, IntegerPath
from accelsim.engine.program import Program
from accelsim.engine.workload import measure_workloads
from accelsim.quant.formats import FormatStore, NumberFormat, resolve_scheme
from accelsim.sram import Profile, SimulatedMemory

__all__ = ["QuantizedModel"]

_MEMORY_CACHE_SIZE = 4


def _content_key(x):
    """Digest of a tensor's dtype, shape and bytes: equal keys mean equal inputs."""
    x = x.detach().cpu().contiguous()
    digest = hashlib.blake2b(f"{x.dtype}{tuple(x.shape)}".encode(), digest_size=16)
    digest.update(x.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _copy_without_parameters(module):
    """A deep copy of ``module`` (buffers and structure) whose parameters are empty placeholders.

    Shared (tied) parameters stay shared; :meth:`QuantizedModel.from_torch`
    fills them with the dequantized values.
    """
    memo = {}
    for parameter in module.parameters():
        if id(parameter) not in memo:
            memo[id(parameter)] = torch.nn.Parameter(torch.empty(0, dtype=parameter.dtype),
                                                     requires_grad=parameter.requires_grad)
    return copy.deepcopy(module, memo).eval()


class QuantizedModel:
    """A torch model quantized to fixed point, ready to run out of simulated SRAM.

    Build one with :meth:`from_torch`. Every parameter tensor is quantized on
    its own (or with the scheme's global range) and concatenated, in the order
    the network reads them, into one array of words of ``bits`` bits: exactly
    the bit patterns written to the weight memory. Buffers (BatchNorm running
    statistics) stay in floating point and never see faults.

    Attributes
    ----------
    scheme : accelsim.quant.QuantScheme
    bits : int
    tensor_names : tuple of str
        Parameter names in memory order.
    words : ndarray
        The stored codes (read-only), ``uint8`` or ``uint16``.
    stored_bits : int
        ``len(words) * bits``.
    meta : dict
        Free-form description (zoo name, training method, ...).
    """

    def __init__(self, module, program, parameters, scheme, example_input, meta=None, act_quant=None):
        self._module = module
        self._program = program
        self.scheme = scheme
        self.bits = scheme.bits
        self.meta = dict(meta or {})
        self.tensor_names = tuple(parameters)
        self._tensor_index = {name: i for i, name in enumerate(self.tensor_names)}
        self._shapes = tuple(p.shape for p in parameters.values())
        self._store = None
        if isinstance(scheme, NumberFormat):  # second-wave formats: accelsim.quant.formats
            self._store = FormatStore(scheme, list(parameters.values()))
            self.words, self._word_offsets = self._store.words, self._store.offsets
        else:
            self._qparams = tuple(quant.calibrate(list(parameters.values()), scheme))
            codes = [quant.quantize(p, qp, scheme) for p, qp in zip(parameters.values(), self._qparams, strict=True)]
            chunks = [quant.codes_to_words(c.reshape(-1), self.bits) for c in codes]
            self.words = np.concatenate(chunks)
            sizes = np.array([len(c) for c in chunks], dtype=np.int64)
            self._word_offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.words.setflags(write=False)
        self.stored_bits = int(len(self.words) * self.bits)
        self._example_input = example_input.detach()
        # A large model keeps its words only: its weights are decoded as they are read.
        self._clean_weights = (sparse.LazyWeights(self) if sparse.is_large(self)
                               else self.weights_from_words(self.words))
        self.act_quant = act_quant
        self._act_path = (None if act_quant is None else
                          ActivationPath.calibrate(program, self._clean_weights, self._example_input, act_quant))
        self._clean_transform = None if act_quant is None else self._act_path.transform()
        self._integer_path = None
        self._memories = OrderedDict()
        self._clean_run_key = None
        self._clean_run = None

    @classmethod
    def from_torch(cls, module: torch.nn.Module, scheme: "str | quant.QuantScheme | NumberFormat", example_input: torch.Tensor,
                   meta: dict | None = None, act_quant=None) -> "QuantizedModel":
        """Quantize ``module`` and prepare it for execution out of memory.

        Parameters
        ----------
        module : torch.nn.Module
            The network; copied once, never modified.
        scheme : str, accelsim.quant.QuantScheme or accelsim.quant.formats.NumberFormat
            A preset name (``"rquant"``, ``"normal"``, ...), a scheme, or a
            number format name (``"int4-g128"``, ``"fp8-e4m3"``, ``"bfp-16"``,
            ...: :mod:`accelsim.quant.formats`).
        example_input : Tensor
            A batch of inputs (``N x C x H x W``) used to check the model runs
            and to measure per-layer workloads.
        meta : dict, optional
            Description kept with the model (e.g. its zoo record).
        act_quant : accelsim.quant.ActivationQuantizer, optional
            Quantize the input of every conv and linear layer, on ranges
            calibrated on ``example_input`` (off by default; then the clean
            model equals :meth:`reference_module` bit for bit).

        Raises
        ------
        ModelImportError
            If the model cannot be traced or uses unsupported layers.
        """
        if not isinstance(module, torch.nn.Module):
            raise ModelImportError(f"expected a torch.nn.Module, got {type(module).__name__}")
        if not isinstance(example_input, torch.Tensor) or example_input.ndim < 2:
            raise ModelImportError("example_input must be a batched tensor (N x ...), "
                                   f"got {type(example_input).__name__}")
        private = _copy_without_parameters(module)
        program, placeholders = trace_program(private, copy_module=False)
        if not placeholders:
            raise ModelImportError(f"{type(module).__name__} has no parameters to store in memory")
        # The user's own tensors, read only: a model of 10^8 parameters is not copied.
        parameters = {name: module.get_parameter(name).detach() for name in placeholders}
        try:
            output, _ = program.run(example_input[:1], parameters)
        except Exception as exc:  # a shape mismatch surfaces only when run
            raise ModelImportError(f"the model does not run on example_input of shape "
                                   f"{tuple(example_input.shape)}: {exc}") from None
        if not isinstance(output, torch.Tensor):
            # Found here, at import, rather than as a traceback inside the first faulty run.
            raise ModelImportError(f"{type(module).__name__} returns a {type(output).__name__}; expected one "
                                   "tensor of logits (N x classes): make forward return the logits only")
        qm = cls(private, program, parameters, resolve_scheme(scheme), example_input, meta, act_quant)
        if not isinstance(qm.clean_weights, sparse.LazyWeights):
            # The private copy's parameters become the dequantized values (shared, not copied);
            # a large model's stay empty placeholders (reference_module decodes them).
            with torch.no_grad():
                for name, value in qm.clean_weights.items():
                    private.get_parameter(name).data = value
        if sparse.is_large(qm):
            sparse.release_freed_memory()  # the encoding's temporaries, before any run
        return qm

    # -- weights -----------------------------------------------------------------
    def weights_from_words(self, words, names=None, base=None):
        """Dequantized weights from stored ``words``.

        Only the tensors in ``names`` (default: all) are decoded; the others
        are taken from ``base``.
        """
        weights = dict(base) if base is not None else {}
        for name in self.tensor_names if names is None else names:
            lo, hi = self._word_range(name)
            weights[name] = self._decode(name, words[lo:hi])
        return weights

    def patched_weights(self, word_index, words, names):
        """Clean weights with tensors ``names`` decoded after writing ``words`` at ``word_index``."""
        if not names:
            return self._clean_weights
        if isinstance(self._clean_weights, sparse.LazyWeights):
            return self._clean_weights.patched(np.asarray(word_index, dtype=np.int64), words)
        if self._store is not None and sparse.supports_in_place(self):
            return sparse.patched_copy(self, np.asarray(word_index, dtype=np.int64), words, names)
        patched = {}
        for name in names:
            lo, hi = self._word_range(name)
            chunk = self.words[lo:hi].copy()
            inside = (word_index >= lo) & (word_index < hi)
            chunk[word_index[inside] - lo] = words[inside]
            patched[name] = self._decode(name, chunk)
        return {**self._clean_weights, **patched}

    def _word_range(self, name):
        i = self._tensor_index[name]
        return self._word_offsets[i], self._word_offsets[i + 1]

    def _decode(self, name, chunk):
        i = self._tensor_index[name]
        if self._store is not None:
            return self._store.decode(i, chunk)
        return quant.dequantize(quant.words_to_codes(chunk).reshape(self._shapes[i]), self._qparams[i])

    @property
    def clean_weights(self):
        """Dequantized weights of the fault-free memory (shared: do not modify).

        A dict of tensors; for a model whose words take at least
        :data:`accelsim.engine.sparse.LARGE_MODEL_WORD_BYTES`, a
        :class:`~accelsim.engine.sparse.LazyWeights` mapping that decodes each
        tensor from the words when read (the same values, no float32 copy
        of the model kept).
        """
        return self._clean_weights

    def aux_words(self, word_index):
        """How many of the words ``word_index`` hold scales, zero points or shared exponents."""
        return 0 if self._store is None else self._store.aux_words(word_index)

    def tensors_at_bits(self, bit_positions):
        """Names of the tensors holding the given stored-bit positions."""
        if len(bit_positions) == 0:
            return ()
        word = np.asarray(bit_positions, dtype=np.int64) // self.bits
        owners = np.unique(np.searchsorted(self._word_offsets, word, side="right") - 1)
        return tuple(self.tensor_names[i] for i in owners)

    def reference_module(self):
        """A torch module (the original architecture) whose every parameter is its dequantized value."""
        reference = copy.deepcopy(self._module)
        lazy = isinstance(self._clean_weights, sparse.LazyWeights)
        with torch.no_grad():
            for name, value in self._clean_weights.items():
                if lazy:  # a freshly decoded tensor, owned by the reference alone
                    reference.get_parameter(name).data = value
                else:
                    reference.get_parameter(name).copy_(value)
        return reference.eval()

    # -- execution ----------------------------------------------------------------
    def forward(self, x: torch.Tensor, weights: dict | None = None, *, execution: str = "float") -> torch.Tensor:
        """Logits of ``x`` with ``weights`` (default: the clean quantized ones).

        ``execution="integer"`` (needs ``act_quant``) runs conv and linear
        layers in integer arithmetic (:mod:`accelsim.engine.integer`).
        """
        logits, _ = self._program.run(x, self._clean_weights if weights is None else weights,
                                      transform=self.execution_transform(execution))
        return logits

    @property
    def program(self) -> Program:
        """The traced network (:class:`~accelsim.engine.program.Program`) every run executes.

        Its ``steps``, ``layer_steps``, :meth:`~Program.live_before` and
        :meth:`~Program.first_step_reading` describe where weights are read,
        for callers that execute part of the network with :meth:`execute`.
        """
        return self._program

    def execute(self, x: torch.Tensor, weights: dict, *, start: int = 0, env: dict | None = None,
                keep: tuple | set | frozenset = (), grad: bool = False) -> tuple[torch.Tensor, dict]:
        """Run the network on ``x`` with ``weights`` from step ``start``: ``(logits, kept)``.

        The engine's own execution (with the model's activation quantization,
        if any), for callers that need more than :meth:`forward`: a start in
        the middle of the network (``env``: the values live there, see
        ``program.live_before``), values to keep (``keep``: step names), and
        with ``grad=True`` autograd recorded, so that the loss can be
        differentiated with respect to ``weights`` (the attacks of
        :mod:`accelsim.attack` rank stored bits by that gradient).

        Parameters
        ----------
        x : Tensor
        weights : mapping of str to Tensor
            Every parameter the executed steps read.
        start : int, default 0
        env : mapping of str to Tensor, optional
            Values live before ``start``.
        keep : collection of str
        grad : bool, default False
            Record autograd (under :func:`torch.enable_grad`); otherwise run in
            inference mode.

        Returns
        -------
        logits : Tensor
        kept : dict of str to Tensor
        """
        if grad:
            with torch.enable_grad():
                return self._program.run_differentiable(x, weights, start=start, env=env, keep=keep,
                                                        transform=self._clean_transform)
        return self._program.run(x, weights, start=start, env=env, keep=keep, transform=self._clean_transform)

    def activation_transform(self, act_faults=None, execution="float"):
        """Layer-input transform quantizing activations, with ``act_faults`` applied."""
        if self._act_path is None:
            raise EngineError("activation faults need quantized activations: build the model with "
                              "QuantizedModel.from_torch(..., act_quant=ActivationQuantizer(bits))")
        return self.execution_transform(execution, act_faults)

    def execution_transform(self, execution="float", act_faults=None):
        """The ``transform`` of :meth:`Program.run` for ``execution`` (``float`` or ``integer``).

        ``float`` without ``act_faults`` is the clean transform (None without
        ``act_quant``); ``integer`` needs ``act_quant``.
        """
        execution = check("execution", execution, StrOptions(EXECUTIONS), error=EngineError)
        if execution == "float":
            return self._clean_transform if act_faults is None else self._act_path.transform(act_faults)
        integer = self._integer()
        masks = self._act_path.fault_masks(act_faults)
        return integer.transform(self._act_path.transform(masks=masks), masks)

    def _integer(self):
        if self._act_path is None:
            raise EngineError("integer execution needs quantized activations: build the model with "
                              "QuantizedModel.from_torch(..., act_quant=ActivationQuantizer(bits))")
        if self._integer_path is None:
            params = {} if self._store is not None else dict(zip(self.tensor_names, self._qparams, strict=True))
            self._integer_path = IntegerPath.build(self._program, self._act_path, self.scheme, params)
        return self._integer_path

    def integer_layers(self) -> "tuple[IntegerLayer, ...]":
        """How each act-quantized layer runs with ``execution="integer"``: kernel, or why float.

        Returns
        -------
        tuple of IntegerLayer
            ``step``, ``layer``, ``execution`` (``integer`` or ``float``),
            ``kernel`` (``int8-mm``, ``float32-exact``, ``float64-exact``)
            and ``reason`` (why a layer falls back to float).
        """
        return self._integer().report

    def memory(self, profile: Profile, seed: int = 0, protection: str = "none") -> SimulatedMemory:
        """The memory holding this model's words in ``profile`` (cached).

        A :class:`SimulatedMemory`, or with a ``protection`` other than
        ``none`` an :class:`accelsim.sram.protection.ProtectedMemory`.
        """
        from accelsim.sram.protection import ProtectedMemory, parse_protection

        protection = parse_protection(protection).name
        key = (id(profile), int(seed), protection)
        if key not in self._memories:
            memory = (SimulatedMemory(profile, self.words, self.bits, seed=seed) if protection == "none"
                      else ProtectedMemory(profile, self.words, self.bits, protection, seed=seed))
            self._memories[key] = (profile, memory)
            if len(self._memories) > _MEMORY_CACHE_SIZE:
                self._memories.popitem(last=False)
        self._memories.move_to_end(key)
        return self._memories[key][1]

    def clean_run(self, x, batch_size=2048, cache_bytes=1 << 30, execution="float"):
        """The clean pass on ``x`` (cached for the last inputs, shared by chips).

        The cache is keyed on the content of ``x`` (a digest of its bytes), not
        its identity, so inputs changed in place are never served stale logits.
        ``execution`` is as in :meth:`run`.
        """
        transform = self.execution_transform(execution)
        key = (_content_key(x), int(batch_size), int(cache_bytes), execution)
        if self._clean_run_key != key:
            self._clean_run = CleanRun(self._program, self._clean_weights, x, batch_size, cache_bytes,
                                       transform, execution=execution)
            self._clean_run_key = key
        return self._clean_run

    def release_caches(self) -> None:
        """Drop the cached clean pass (logits, activations) and memories; they are rebuilt when asked for.

        A sweep calls it when it is done with a model, so that the models of
        a sweep do not each keep their clean activations.
        """
        self._clean_run = self._clean_run_key = None
        self._memories.clear()

    def check_protection(self, protection: str, on_detect: str = "zero") -> str:
        """Refuse a protection this model's words cannot take; return ``on_detect`` checked.

        ``on_detect="zero"`` reads a detected word's weight as the value zero,
        which is defined for the fixed-point presets (one word, one weight).
        Number formats store scales, zero points and shared exponents beside
        the codes, where one word is not one weight; they take ``keep``.

        Raises
        ------
        ProtectionError
        """
        from accelsim.sram.protection import ProtectionError, check_on_detect, parse_protection

        on_detect = check_on_detect(on_detect)
        parsed = parse_protection(protection)
        parsed.check_word_bits(self.bits)
        if parsed.name != "none" and on_detect == "zero" and self._store is not None:
            raise ProtectionError(f"on_detect 'zero' with protection {protection!r} is defined for the fixed-point "
                                  f"presets only, and this model is stored as {self.scheme.name}; use on_detect "
                                  "'keep' (--on-detect keep)")
        return on_detect

    def evaluator(self, x: torch.Tensor, profile: Profile, chip: int = 0, seed: int = 0, batch_size: int = 2048,
                  cache_bytes: int = 1 << 30, *, protection: str = "none", on_detect: str = "zero",
                  execution: str = "float") -> Evaluator:
        """An :class:`Evaluator` of this model on inputs ``x`` in one chip of ``profile``.

        Evaluators of the same inputs share one clean pass and its cached
        activations (up to ``cache_bytes``), from which faulty runs start.
        ``protection``, ``on_detect`` and ``execution`` are as in :meth:`run`.
        """
        on_detect = self.check_protection(protection, on_detect)
        return Evaluator(self, self.clean_run(x, batch_size, cache_bytes, execution),
                         self.memory(profile, seed, protection), chip, on_detect=on_detect)

    def run(self, x: torch.Tensor, profile: Profile | None, vdd_v: float, chip: int = 0, seed: int = 0,
            act_faults: "ActivationFaults | None" = None, *, protection: str = "none", on_detect: str = "zero",
            extra_flips: "np.ndarray | None" = None, execution: str = "float") -> RunResult:
        """Run ``x`` with the weights read from ``profile``'s memory at ``vdd_v``.

        ``act_faults`` (:class:`~accelsim.engine.ActivationFaults`, needs
        ``act_quant``) also corrupts activations in the activation SRAM.
        ``protection`` (``none``, ``parity:N``, ``secded:N``, ``msb:K``,
        ``msb:K:tmr``; see :mod:`accelsim.sram.protection`) stores the words
        encoded and decodes them on read; ``on_detect`` (``zero`` or ``keep``)
        is what a detected-uncorrectable word reads as.
        ``extra_flips`` (distinct stored-bit indices, e.g. an attack's
        ``bits``) are flipped in the stored cells before the faults of
        ``vdd_v`` apply; ``profile=None`` reads a fault-free memory. Under a
        protection scheme they index the stored stream, check bits included
        (:func:`accelsim.sram.protection.stored_stream_bits`), and the
        decoder sees them as it sees faults (its counters include them).
        ``execution="integer"`` (needs ``act_quant``) runs the conv and linear
        layers in integer arithmetic on the codes read
        (:mod:`accelsim.engine.integer`; :meth:`integer_layers` says which);
        the default ``float`` runs them in float32 on the decoded values.

        Returns
        -------
        RunResult
            ``logits``, ``faulty_cells``, ``flipped_bits``, ``model_ber``, ...
        """
        if extra_flips is not None or profile is None:
            from accelsim.sram.protection import parse_protection

            if parse_protection(protection).kind != "none":
                from accelsim.engine.flips import run_protected_with_flips

                return run_protected_with_flips(self, x, profile, vdd_v, chip, seed, act_faults, protection,
                                                on_detect, extra_flips, execution)
            from accelsim.engine.flips import run_with_flips

            return run_with_flips(self, x, profile, vdd_v, chip, seed, act_faults, extra_flips, execution)
        return self.evaluator(x, profile, chip, seed, cache_bytes=0, protection=protection,
                              on_detect=on_detect, execution=execution).run(vdd_v, act_faults)

    def energy(self, profile, vdd_v, x=None, accelerator=None):
        """Energy per inference with the weight SRAM of ``profile`` at ``vdd_v``.

        Parameters
        ----------
        profile : accelsim.sram.Profile
            Gives the weight SRAM's energy model and nominal voltage.
        vdd_v : float
            Supply of the weight SRAM, volts (the rest of the accelerator
            stays at nominal).
        x : Tensor, optional
            Inputs whose activation sparsity the zero gating sees (default:
            the example input).
        accelerator : accelsim.accel.Accelerator, optional
            Default: :func:`accelsim.accel.default_accelerator`.

        Returns
        -------
        accelsim.accel.EnergyBreakdown
            ``total_j``, ``weight_mem_j``, ``act_mem_j``, ``mac_j``,
            ``latency_s``, ``per_layer``, ...
        """
        profile.check_voltage(vdd_v)
        accelerator = default_accelerator() if accelerator is None else accelerator
        return accelerator.energy(self.workloads(x), profile.energy, vdd_v, profile.vdd_nominal_v)

    def workloads(self, x=None):
        """Per-layer workloads (:class:`accelsim.accel.LayerWorkload`) for one input."""
        x = self._example_input if x is None else x
        return measure_workloads(self._program, self._clean_weights, x, self.bits)

    def batch_size_for(self, x):
        """Images per batch that keep the largest layer's activations in cache (128 to 2048).

        See :func:`accelsim.engine._batching.auto_batch_size`; per-example
        logits do not depend on the batch size, only the speed does.
        """
        from accelsim.engine._batching import auto_batch_size

        return auto_batch_size(self._program, self._clean_weights, x, self._clean_transform)

    def __repr__(self):
        return (f"QuantizedModel({len(self.tensor_names)} tensors, {self.stored_bits} bits, "
                f"scheme={json.dumps(self.scheme.to_dict())})")
