"""Inference with chosen stored bits flipped: the replay path of an attack.

An attacker (rowhammer, a voltage glitch) changes what cells hold; the
faults of an under-volted read then apply to that content. This module runs
one such point through the ordinary engine path (decode of the changed
tensors, execution of the program), so that an attack's reported accuracy
can be checked by anyone holding its flipped bit indices.

Bit ``k * bits + j`` is bit ``j`` (LSB = 0) of stored word ``k``, the stream
index of :class:`~accelsim.sram.SimulatedMemory`. Under a protection scheme
the index runs over the stored stream, check bits included
(:func:`accelsim.sram.protection.stored_stream_bits`: bit ``c * n + p`` is
Hamming position ``p`` of codeword ``c``); the flips land in the cells, the
faults apply, and the decoder decodes what the cells hold, so its counters
(corrected, detected, mis-corrected words) count the attacker's flips too.
"""

import numpy as np

from accelsim.engine.evaluate import RunResult
from accelsim.engine.graph import EngineError
from accelsim.sram.memory import count_differing_bits, flip_stream_bits

__all__ = ["checked_flips", "run_protected_with_flips", "run_with_flips"]


def checked_flips(flips, stored_bits):
    """``flips`` as a 1-D int64 array of distinct indices in ``[0, stored_bits)``.

    Raises
    ------
    EngineError
        For anything else (the message says which index is wrong).
    """
    if flips is None:
        return np.zeros(0, dtype=np.int64)
    array = np.asarray(flips)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise EngineError(f"extra_flips = {_short(flips)}: expected a 1-D array of integer stored-bit indices")
    array = array.astype(np.int64)
    if array.size:
        bad = np.flatnonzero((array < 0) | (array >= stored_bits))
        if bad.size:
            raise EngineError(f"extra_flips[{int(bad[0])}] = {int(array[bad[0]])}: expected a stored-bit "
                              f"index in [0, {stored_bits})")
        if np.unique(array).size != array.size:
            raise EngineError("extra_flips holds an index twice: expected distinct stored-bit indices "
                              "(a bit flipped twice is not flipped)")
    return array


def run_with_flips(qm, x, profile, vdd_v, chip, seed, act_faults, extra_flips, execution="float"):
    """:meth:`QuantizedModel.run` with ``extra_flips`` applied to the stored words first.

    ``profile=None`` is a fault-free memory (``vdd_v`` is then ignored).
    Returns a :class:`RunResult` whose ``flipped_bits`` counts every stored
    bit read differently from the written one (the flips and the faults).
    """
    flips = checked_flips(extra_flips, qm.stored_bits)
    if profile is None:
        words = flip_stream_bits(qm.words, qm.bits, flips)
        faulty_cells, flipped, tiled = 0, count_differing_bits(words, qm.words), False
    else:
        read = qm.memory(profile, seed).read_with_flips(vdd_v, chip, flips)
        words, faulty_cells, flipped, tiled = read.words, read.faulty_cells, read.flipped_bits, read.tiled
    index = np.flatnonzero(words != qm.words)
    changed = qm.tensors_at_bits(index * qm.bits)
    weights = qm.patched_weights(index, words[index], changed)
    logits, first = _run_patched(qm, x, weights, changed, act_faults, execution)
    stored = qm.stored_bits
    return RunResult(logits=logits, faulty_cells=int(faulty_cells), flipped_bits=int(flipped),
                     model_ber=flipped / stored, stored_bits=stored, changed_tensors=changed,
                     first_step=first, tiled=bool(tiled))


def _run_patched(qm, x, weights, changed, act_faults, execution):
    """``(logits, first step run)`` of ``x`` with ``weights``, from the first step reading ``changed``."""
    clean = qm.clean_run(x, cache_bytes=0, execution=execution)
    if act_faults is not None:
        return clean.run_from(0, weights, qm.activation_transform(act_faults, execution)), 0
    if not changed:
        return clean.logits, len(clean.program.steps)
    first = clean.program.first_step_reading(changed)
    return clean.run_from(first, weights), first


def run_protected_with_flips(qm, x, profile, vdd_v, chip, seed, act_faults, protection, on_detect, extra_flips,
                             execution="float"):
    """:func:`run_with_flips` on a protected memory: flips into the stored stream, then decode.

    ``extra_flips`` index the stored stream of ``protection`` (check bits
    included, see the module docs); ``profile=None`` is a fault-free memory.
    Detected words read as ``on_detect`` says, as in an ordinary protected run.
    """
    from accelsim.engine.protected import protected_weights
    from accelsim.sram.protection import decode_flipped, parse_protection, stored_stream_bits

    on_detect = qm.check_protection(protection, on_detect)
    p = parse_protection(protection)
    flips = checked_flips(extra_flips, stored_stream_bits(len(qm.words), qm.bits, p))
    if profile is None:
        read = decode_flipped(qm.words, qm.bits, p, flips, on_detect)
        stored = stored_stream_bits(len(qm.words), qm.bits, p)
    else:
        memory = qm.memory(profile, seed, p.name)
        read = memory.read_with_flips(vdd_v, chip, flips, on_detect)
        stored = memory.stored_bits
    weights, changed = protected_weights(qm, read, on_detect)
    logits, first = _run_patched(qm, x, weights, changed, act_faults, execution)
    return RunResult(logits=logits, faulty_cells=int(read.faulty_cells), flipped_bits=int(read.flipped_bits),
                     model_ber=read.flipped_bits / stored if stored else 0.0, stored_bits=int(stored),
                     changed_tensors=changed, first_step=first, tiled=bool(read.tiled), protection=p.name,
                     corrected_words=read.corrected_words, detected_words=read.detected_words,
                     miscorrected_words=read.miscorrected_words,
                     residual_flipped_bits=read.residual_flipped_bits)


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
