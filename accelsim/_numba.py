"""The one place where Numba options are fixed.

Kernels are decorated with :func:`jit`. Without an explicit signature Numba
compiles on first call, so importing a module compiles nothing; ``cache=True``
keeps the machine code on disk for the next process.
"""

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["jit", "prefetch"]

_OPTIONS = dict(nopython=True, cache=True, nogil=True, error_model="numpy")


def jit(func):
    """Compile ``func`` lazily with the project's Numba options."""
    return numba.jit(**_OPTIONS)(func)


# llvm.prefetch's operands: a write is coming, keep the line in every cache
# level, and it is data (not instructions).
_PREFETCH_WRITE = 1
_PREFETCH_LOCALITY = 3
_PREFETCH_DATA = 1


@intrinsic
def prefetch(typingctx, array, index):
    """Ask the CPU to bring ``array[index]`` into the cache, without waiting for it.

    For kernels that visit scattered elements of a large array: a prefetch
    some iterations ahead overlaps the cache misses that plain loads would
    serve one after another. The index is not bounds-checked (a prefetch of
    any address is harmless, but callers keep it in bounds).
    """
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array_value = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, array_value, [args[1]],
                                           wraparound=False, boundscheck=False)
        byte_pointer = ir.IntType(8).as_pointer()
        int32 = ir.IntType(32)
        function_type = ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32])
        function = cgutils.get_or_insert_function(builder.module, function_type, "llvm.prefetch.p0i8")
        builder.call(function, [builder.bitcast(pointer, byte_pointer), ir.Constant(int32, _PREFETCH_WRITE),
                                ir.Constant(int32, _PREFETCH_LOCALITY), ir.Constant(int32, _PREFETCH_DATA)])
        return context.get_dummy_value()

    return types.void(array, index), codegen
