"""How many images per batch, and how many batches at once.

Batch size: a batch whose largest activation fits in a quarter of the
last-level cache keeps a step's input and output in cache; below 128 images the per-op dispatch dominates.
Measured on the 2-core development machine (32 MiB L3, torch at one thread):
MNIST LeNet over 10,000 images 0.38 s at 256 against 0.81 s at 2048 and
1.21 s at 10,000; CIFAR ResNet-20 7.6 s per 2,048 images at 256 against
11.7 s at 2048. Per-example logits do not depend on the batch they ran in
(the convolution and linear kernels reduce within an example), so the choice
changes speed only; the sweep still fixes it once in its spec, so that every
executor and machine runs the same batches.

Batches at once: the batches of one evaluation are independent, so a pool
of threads runs them side by side, each op at torch's one intra-op thread.
Every batch is computed exactly as it would be alone and the results are
concatenated in batch order, so the logits are bit-identical for any number
of threads (unlike torch's intra-op threads, whose reduction order may
depend on the thread count).
"""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

__all__ = ["auto_batch_size", "last_level_cache_bytes", "batch_threads", "map_batches", "thread_count",
           "available_cores", "MIN_BATCH", "MAX_BATCH"]

MIN_BATCH, MAX_BATCH = 128, 2048
_DEFAULT_CACHE_BYTES = 32 * 2**20
_CACHE_FRACTION = 4

_threads = 1
_pool = None


def last_level_cache_bytes():
    """Size of the largest CPU cache (Linux sysfs), or 32 MiB when unknown."""
    sizes = []
    for entry in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        try:
            text = entry.read_text().strip()
        except OSError:
            continue
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:].upper(), 1)
        digits = text[:-1] if scale != 1 else text
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes, default=_DEFAULT_CACHE_BYTES)


def available_cores():
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def auto_batch_size(program, weights, x, transform=None, cache_bytes=None):
    """Images per batch for ``program`` on inputs like ``x`` (see the module docstring).

    The largest activation's bytes per example are measured on one
    example; the batch is the largest power of two whose activations of that
    size fit in a quarter of ``cache_bytes`` (default: the last-level
    cache), clamped to ``[128, 2048]``.
    """
    cache_bytes = last_level_cache_bytes() if cache_bytes is None else int(cache_bytes)
    names = {s.name for s in program.steps}
    _, values = program.run(x[:1], weights, keep=names, transform=transform)
    largest = max((v.numel() * v.element_size() for v in values.values() if isinstance(v, torch.Tensor)),
                  default=1)
    fits = max(1, cache_bytes // _CACHE_FRACTION // largest)
    return int(min(MAX_BATCH, max(MIN_BATCH, 1 << (fits.bit_length() - 1))))


@contextlib.contextmanager
def batch_threads(n):
    """Run the batches of evaluations inside this block on ``n`` threads."""
    global _threads, _pool
    previous, previous_pool = _threads, _pool
    _threads, _pool = max(1, int(n)), None
    try:
        yield
    finally:
        if _pool is not None:
            _pool.shutdown()
        _threads, _pool = previous, previous_pool


def thread_count():
    """Threads that :func:`map_batches` runs batches on (inside :func:`batch_threads`)."""
    return _threads


def map_batches(fn, batches):
    """``[fn(b) for b in batches]``, on the threads of :func:`batch_threads`."""
    global _pool
    if _threads == 1 or len(batches) < 2:
        return [fn(b) for b in batches]
    if _pool is None:
        intra_op = torch.get_num_threads()
        _pool = ThreadPoolExecutor(_threads, initializer=torch.set_num_threads, initargs=(intra_op,))
    return list(_pool.map(fn, batches))
