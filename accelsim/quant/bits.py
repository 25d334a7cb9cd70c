"""Codes <-> memory words <-> bit streams.

The weight memory stores unsigned words (:class:`accelsim.sram.SimulatedMemory`
takes a 1-D ``uint8``/``uint16`` array and a word width); bit ``j`` (LSB = 0)
of word ``k`` is stream bit ``k * bits + j``. These helpers convert between
the int64 code tensors of :mod:`accelsim.quant.fixed_point` and those arrays.
"""

import numpy as np
import torch

from accelsim.quant.scheme import SUPPORTED_BITS, QuantError

__all__ = ["codes_to_words", "words_to_codes", "pack_bits", "unpack_bits", "word_dtype"]


def word_dtype(bits):
    """Smallest unsigned numpy dtype holding ``bits``-bit words: uint8 up to 8 bits, else uint16."""
    _check_bits(bits)
    return np.dtype(np.uint8) if bits <= 8 else np.dtype(np.uint16)


def codes_to_words(codes, bits):
    """Memory words holding the bit patterns of ``codes``.

    Parameters
    ----------
    codes : Tensor of int64
        Bit patterns in ``[0, 2**bits)`` (as returned by
        :func:`~accelsim.quant.quantize`).
    bits : int
        Code width.

    Returns
    -------
    ndarray of uint8 (bits <= 8) or uint16
        Same shape as ``codes``; ``ravel()`` it for the memory.
    """
    dtype = word_dtype(bits)
    if not isinstance(codes, torch.Tensor) or codes.dtype != torch.int64:
        raise QuantError(
            f"codes must be an int64 torch.Tensor, got {getattr(codes, 'dtype', type(codes).__name__)}"
        )
    values = codes.detach().cpu().numpy()
    _check_range(values, bits, "codes")
    return values.astype(dtype)


def words_to_codes(words, bits=None):
    """int64 code tensor from memory words (the inverse of :func:`codes_to_words`).

    Parameters
    ----------
    words : ndarray of unsigned integers
        Words read from memory.
    bits : int, optional
        Code width; when given, every word must fit in it.

    Returns
    -------
    Tensor of int64
        Same shape as ``words``.
    """
    if not isinstance(words, np.ndarray) or words.dtype.kind != "u":
        raise QuantError(
            f"words must be a numpy array of unsigned integers, got {getattr(words, 'dtype', type(words).__name__)}"
        )
    if bits is not None:
        _check_bits(bits)
        _check_range(words, bits, "words")
    return torch.from_numpy(words.astype(np.int64))


def pack_bits(words, bits):
    """Bit stream of ``words``, LSB first within each word.

    Parameters
    ----------
    words : ndarray of unsigned integers, 1-D
        Words in ``[0, 2**bits)``.
    bits : int
        Bits per word.

    Returns
    -------
    ndarray of uint8, shape ``(len(words) * bits,)``
        Element ``k * bits + j`` is bit ``j`` of ``words[k]`` (0 or 1).
    """
    _check_bits(bits)
    _check_stream_words(words)
    _check_range(words, bits, "words")
    shifts = np.arange(bits, dtype=words.dtype)
    return ((words[:, None] >> shifts) & 1).astype(np.uint8).ravel()


def unpack_bits(stream, bits):
    """Words of a bit stream (the exact inverse of :func:`pack_bits`).

    Parameters
    ----------
    stream : ndarray of uint8, 1-D
        Bits (0 or 1), LSB first within each word; length a multiple of ``bits``.
    bits : int
        Bits per word.

    Returns
    -------
    ndarray of uint8 (bits <= 8) or uint16, shape ``(len(stream) // bits,)``
    """
    dtype = word_dtype(bits)
    if not isinstance(stream, np.ndarray) or stream.dtype != np.uint8 or stream.ndim != 1:
        raise QuantError(f"bit stream must be a 1-D uint8 numpy array, got {_describe(stream)}")
    if len(stream) % bits:
        raise QuantError(f"bit stream length {len(stream)} is not a multiple of the word width {bits}")
    if stream.size and stream.max() > 1:
        raise QuantError(f"bit stream holds the value {int(stream.max())}; expected only 0 and 1")
    weights = (np.ones(1, dtype) << np.arange(bits, dtype=dtype))
    return (stream.reshape(-1, bits).astype(dtype) * weights).sum(axis=1, dtype=dtype)


def _check_bits(bits):
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or int(bits) not in SUPPORTED_BITS:
        raise QuantError(f"bits is {bits!r}; expected an int in {SUPPORTED_BITS}")


def _check_stream_words(words):
    if not isinstance(words, np.ndarray) or words.dtype.kind != "u" or words.ndim != 1:
        raise QuantError(f"words must be a 1-D numpy array of unsigned integers, got {_describe(words)}")


def _check_range(values, bits, name):
    if values.size and (int(values.min()) < 0 or int(values.max()) >= 2**bits):
        raise QuantError(
            f"{name} span [{int(values.min())}, {int(values.max())}]; {bits}-bit values must lie in "
            f"[0, {2**bits - 1}]"
        )


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"a {value.ndim}-D {value.dtype} array"
    return type(value).__name__
