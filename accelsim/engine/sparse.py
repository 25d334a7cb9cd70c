"""Faulty reads of large models in memory proportional to the faults, not to the model.

For a model of 10^8 parameters, a faulty read that copies every changed
tensor (at a bit error rate of 1e-3 every tensor changes) doubles the memory
the weights take. Here the words a read changes are computed from the
chip's placement alone (no copy of the stored words), decoded one by one, and
written into the clean weights *in place* for the run, then restored: the
added memory is that of the faulty words. The result is bit-identical to the
copying path (tested), for every element-wise format: the fixed-point presets
(per tensor, global or per channel), ``int8``/``int4`` (per channel) and the
floating point formats. Per-group formats (``int*-gG``) and ``bfp-B``, where
a scale or shared exponent word changes a whole group, take the copying path.

Not thread-safe: one run at a time per model (as the sweep runs them).
"""

import numpy as np
import torch

__all__ = ["LARGE_MODEL_WORD_BYTES", "is_large", "supports_in_place", "faulty_words", "run_in_place"]

#: Models whose words take at least this many bytes read faults in place.
LARGE_MODEL_WORD_BYTES = 1 << 26


def is_large(qm):
    """True when ``qm`` is large enough for in-place faulty reads."""
    return qm.words.nbytes >= LARGE_MODEL_WORD_BYTES


def supports_in_place(qm):
    """True when every stored word decodes to one weight on its own (no shared scale words)."""
    store = qm._store
    return store is None or store.format.kind in ("channel", "float")


def faulty_words(memory, vdd_v, chip):
    """The words a read at ``vdd_v`` changes, from the placement only.

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
    n_faulty = memory.faulty_cells(vdd_v, chip)
    placement = memory.placement(chip, vdd_v)
    # Cells in word order (sorted once per placement): a read is then linear
    # in the placement, with no sort of its own.
    order = _word_order(placement)
    cells = order[order < n_faulty]
    cells = cells[placement.errs[cells]]
    index = placement.word_index[cells].astype(np.int64)
    bit = placement.bit_in_word[cells].astype(np.uint64)
    kind = placement.fault_kind[cells]
    starts = np.flatnonzero(np.concatenate([[True], index[1:] != index[:-1]])) if len(index) else np.zeros(0, int)
    unique = index[starts]
    old = memory.words[unique].astype(np.uint64)
    mask = np.left_shift(np.uint64(1), bit)
    zero = np.uint64(0)
    new = old
    if len(unique):
        # Stuck-at-0, stuck-at-1 and flip cells (kinds 0, 1, 2) each hold their own bit.
        clear = np.bitwise_or.reduceat(np.where(kind == 0, mask, zero), starts)
        set_ = np.bitwise_or.reduceat(np.where(kind == 1, mask, zero), starts)
        flip = np.bitwise_or.reduceat(np.where(kind == 2, mask, zero), starts)
        new = ((old & ~clear) | set_) ^ flip
    flipped = int(np.bitwise_count(old ^ new).sum())
    differs = new != old
    return (unique[differs], new[differs].astype(memory.words.dtype), int(n_faulty), flipped,
            bool(placement.tiled))


_ORDERS = {}
_TRIMMED = set()


def _word_order(placement):
    """Placement entries sorted by word (stable: fail order within a word), cached for the last chips."""
    key = id(placement)
    cached = _ORDERS.get(key)
    if cached is None or cached[0] is not placement:
        if len(_ORDERS) >= 8:
            _ORDERS.pop(next(iter(_ORDERS)))
        cached = (placement, np.argsort(placement.word_index, kind="stable"))
        _ORDERS[key] = cached
    return cached[1]


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
    """One faulty run of a large model, patching its clean weights in place (then restoring them).

    Returns
    -------
    logits, faulty_cells, flipped_bits, changed (tuple of tensor names), first (step), tiled,
    nonfinite (weights read as inf or NaN)
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
    weights = qm.clean_weights
    saved, nonfinite, changed = [], 0, []
    try:
        for i in np.unique(owner):
            inside = owner == i
            element = word_index[inside] - qm._word_offsets[i]
            values = _decode_elements(qm, int(i), element, words[inside])
            flat = weights[qm.tensor_names[i]].view(-1)
            position = torch.from_numpy(element)
            saved.append((flat, position, flat[position].clone()))
            flat[position] = values
            nonfinite += int((~torch.isfinite(values)).sum())
            changed.append(qm.tensor_names[i])
        program = evaluator._clean.program
        if changed:
            first = program.first_step_reading(changed)
            logits = evaluator._clean.run_from(first, weights)
        else:
            first, logits = len(program.steps), evaluator._clean.logits
    finally:
        for flat, position, old in reversed(saved):
            flat[position] = old
    return logits, faulty_cells, flipped, tuple(changed), first, tiled, nonfinite
