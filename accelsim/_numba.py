"""The one place where Numba options are fixed.

Kernels are decorated with :func:`jit`. Without an explicit signature Numba
compiles on first call, so importing a module compiles nothing; ``cache=True``
keeps the machine code on disk for the next process.
"""

import numba

__all__ = ["jit"]

_OPTIONS = dict(nopython=True, cache=True, nogil=True, error_model="numpy")


def jit(func):
    """Compile ``func`` lazily with the project's Numba options."""
    return numba.jit(**_OPTIONS)(func)
