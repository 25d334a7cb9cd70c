"""Large models: weights decoded as they are read, faulty reads in memory proportional to the faults.

A model of 10^8 parameters whose words take at least
:data:`LARGE_MODEL_WORD_BYTES` keeps no float32 copy of its weights: its
clean weights are a :class:`LazyWeights` mapping that decodes a tensor from
the stored words when a step reads it, and drops it after (the words of an
8-bit model are a quarter of its float32 size). A faulty read computes the
words it changes from the chip's placement alone (no copy of the stored
words) and runs on the same mapping with those words written: a changed
tensor is decoded from its words with the faulty ones in place. Decoding is
the same function on the same words, so the values are bit-identical to the
copying path (tested) for every format.

A model built with full weights (below the threshold) and run as large (a
test lowering the threshold) patches its clean weights *in place* for the
run, then restores them, for the element-wise formats: the fixed-point
presets, ``int8``/``int4`` (per channel) and the floating point formats.

Not thread-safe: one run at a time per model (as the sweep runs them).
"""

from collections.abc import Mapping

import numpy as np
import torch

__all__ = ["LARGE_MODEL_WORD_BYTES", "LazyWeights", "is_large", "runs_large", "supports_in_place", "faulty_words",
           "run_in_place"]

#: Models whose words take at least this many bytes keep no float32 weights and read only changed words.
LARGE_MODEL_WORD_BYTES = 1 << 26


def is_large(qm):
    """True when ``qm``'s words take at least :data:`LARGE_MODEL_WORD_BYTES` (lazy weights, sparse reads)."""
    return qm.words.nbytes >= LARGE_MODEL_WORD_BYTES


class LazyWeights(Mapping):
    """A model's weights decoded from its stored words on each access, with faulty words written.

    Iterates over the tensor names in memory order; ``weights[name]`` is a
    fresh float32 tensor, equal bit for bit to
    ``qm.weights_from_words(words)[name]`` where ``words`` are the stored
    words with ``word_index`` set to ``values``. Each access decodes again
    (a run of several batches decodes a tensor once per batch): memory, not
    time, is what a model of 10^8 parameters runs out of.

    Parameters
    ----------
    qm : QuantizedModel
    word_index : ndarray of int, optional
        Words read differently from storage (repeats allowed, each with the
        same value).
    values : ndarray, optional
        Their read values.
    """

    def __init__(self, qm, word_index=None, values=None):
        self._qm = qm
        if word_index is None or len(word_index) == 0:
            self._index, self._values = np.zeros(0, np.int64), None
        else:
            order = np.argsort(word_index, kind="stable")
            self._index = np.asarray(word_index, dtype=np.int64)[order]
            self._values = np.asarray(values)[order]

    def __getitem__(self, name):
        qm = self._qm
        lo, hi = qm._word_range(name)  # a KeyError for a name the model does not store
        chunk = qm.words[lo:hi]
        first, last = np.searchsorted(self._index, (lo, hi))
        if last > first:
            chunk = chunk.copy()
            chunk[self._index[first:last] - lo] = self._values[first:last]
        return qm._decode(name, chunk)

    def __iter__(self):
        return iter(self._qm.tensor_names)

    def __len__(self):
        return len(self._qm.tensor_names)

    def patched(self, word_index, values):
        """The model's weights with ``values`` read at ``word_index`` (instead of this mapping's own)."""
        return LazyWeights(self._qm, word_index, values)


def runs_large(qm):
    """True when ``qm``'s faulty runs take :func:`run_in_place` (large, and lazy or element-wise)."""
    return is_large(qm) and (isinstance(qm.clean_weights, LazyWeights) or supports_in_place(qm))


def supports_in_place(qm):
    """True when every stored word decodes to one weight on its own (no shared scale words)."""
    store = qm._store
    return store is None or store.format.kind in ("channel", "float")


def faulty_words(memory, vdd_v, chip):
    """The words a read at ``vdd_v`` changes, from the placement only.

    Only the words holding a faulty cell are touched
    (:meth:`accelsim.sram.SimulatedMemory.read_changed`).

    Returns
    -------
    word_index : ndarray of int64
        Words whose read value differs from the stored one, ascending.
    words : ndarray
        Their read values.
    faulty_cells : int
    flipped_bits : int
    tiled : bool
    """
    read = memory.read_changed(vdd_v, chip)
    return read.word_index, read.words, read.faulty_cells, read.flipped_bits, read.tiled


_TRIMMED = set()


def release_freed_memory():
    """Hand the allocator's freed blocks back to the system (glibc), after a large import."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _decode_elements(qm, i, element, words):
    """float32 values of tensor ``i``'s words ``words`` sitting at flat positions ``element``."""
    shape = qm._shapes[i]
    cols = int(np.prod(shape[1:])) if len(shape) >= 2 else max(int(np.prod(shape)), 1)
    row = torch.from_numpy(element // cols)
    store = qm._store
    if store is not None:
        fmt = store.format
        if fmt.kind == "float":
            return fmt.decode(words, (len(words),))
        scale = store._states[i].reshape(-1)
        codes = torch.from_numpy(words.astype(np.int64))
        levels = codes - ((codes >> (fmt.bits - 1)) << fmt.bits)
        return (levels * scale[row if len(shape) >= 2 else torch.zeros_like(row)]).to(torch.float32)
    params = qm._qparams[i]
    codes = torch.from_numpy(words.astype(np.int64))
    levels = codes if params.unsigned else codes - ((codes >> (params.bits - 1)) << params.bits)
    scale, zero = params.scale.reshape(-1), params.zero_point.reshape(-1)
    pick = row if scale.numel() > 1 else torch.zeros_like(row)
    return ((levels - zero[pick]) * scale[pick]).to(torch.float32)


def patched_copy(qm, word_index, words, names):
    """Clean weights with the words ``words`` at ``word_index`` written: changed tensors cloned and
    patched element by element (no decode of whole tensors), for element-wise number formats."""
    owner = np.searchsorted(qm._word_offsets, word_index, side="right") - 1
    patched = {}
    for name in names:
        i = qm._tensor_index[name]
        inside = owner == i
        element = word_index[inside] - qm._word_offsets[i]
        tensor = qm.clean_weights[name].clone()
        tensor.view(-1)[torch.from_numpy(element.astype(np.int64))] = _decode_elements(qm, i, element,
                                                                                      words[inside])
        patched[name] = tensor
    return {**qm.clean_weights, **patched}


def run_in_place(evaluator, vdd_v):
    """One faulty run of a large model: its lazy weights with the faulty words, or clean ones patched in place.

    Returns
    -------
    logits, faulty_cells, flipped_bits, changed (tuple of tensor names), first (step), tiled,
    nonfinite (weights read as inf or NaN), erred_scale_words
    """
    qm = evaluator._qm
    if evaluator._clean.cuts:
        _ = evaluator._clean.logits  # the cached clean activations, before any weight changes
    word_index, words, faulty_cells, flipped, tiled = faulty_words(evaluator._memory, vdd_v, evaluator.chip)
    if id(evaluator._memory) not in _TRIMMED:
        # Drawing the chip left freed temporaries with the allocator; hand them back once.
        _TRIMMED.add(id(evaluator._memory))
        release_freed_memory()
    owner = np.searchsorted(qm._word_offsets, word_index, side="right") - 1
    owners = np.unique(owner)
    changed = tuple(qm.tensor_names[i] for i in owners)
    program = evaluator._clean.program
    first = program.first_step_reading(changed)
    weights = qm.clean_weights
    if isinstance(weights, LazyWeights):
        weights = weights.patched(word_index, words)
        if supports_in_place(qm):  # one word, one weight: only the faulty words' values
            nonfinite = 0
            for i in owners:
                inside = owner == i
                values = _decode_elements(qm, int(i), word_index[inside] - qm._word_offsets[i], words[inside])
                nonfinite += int((~torch.isfinite(values)).sum())
        else:  # a scale or shared exponent changes a whole group: count in the decoded tensors
            nonfinite = sum(int((~torch.isfinite(weights[name])).sum()) for name in changed)
        logits = evaluator._clean.run_from(first, weights) if changed else evaluator._clean.logits
        return logits, faulty_cells, flipped, changed, first, tiled, nonfinite, qm.aux_words(word_index)
    saved, nonfinite = [], 0
    try:
        for i in owners:
            inside = owner == i
            element = word_index[inside] - qm._word_offsets[i]
            values = _decode_elements(qm, int(i), element, words[inside])
            flat = weights[qm.tensor_names[i]].view(-1)
            position = torch.from_numpy(element)
            saved.append((flat, position, flat[position].clone()))
            flat[position] = values
            nonfinite += int((~torch.isfinite(values)).sum())
        logits = evaluator._clean.run_from(first, weights) if changed else evaluator._clean.logits
    finally:
        for flat, position, old in reversed(saved):
            flat[position] = old
    return logits, faulty_cells, flipped, changed, first, tiled, nonfinite, 0
