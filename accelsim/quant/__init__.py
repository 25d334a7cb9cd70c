"""Fixed-point quantization: schemes, codes <-> values, bit packing, activations.

Knows no execution and no memory (torch and numpy only). A model's parameter
tensors are calibrated under a :class:`QuantScheme`, quantized to int64 codes
holding the exact bit patterns written to memory, turned into memory words,
and decoded back after the memory has applied its faults::

    scheme = get_scheme("rquant", bits=8)
    params = calibrate(tensors, scheme)
    codes = [quantize(t, p, scheme) for t, p in zip(tensors, params)]
    words = codes_to_words(codes[0], scheme.bits).ravel()
    values = dequantize(words_to_codes(words).reshape(codes[0].shape), params[0])
"""

from accelsim.quant.activations import (
    ActivationQuantizer,
    calibrate_activation_range,
    fake_quantize_activations,
)
from accelsim.quant.bits import (
    codes_to_words,
    pack_bits,
    unpack_bits,
    word_dtype,
    words_to_codes,
)
from accelsim.quant.fixed_point import dequantize, fake_quantize, quantize
from accelsim.quant.formats import FORMAT_NAMES, NumberFormat, resolve_scheme
from accelsim.quant.params import QuantParams, calibrate, params_from_range
from accelsim.quant.scheme import PRESETS, QuantError, QuantScheme, get_scheme

__all__ = [
    "QuantError",
    "QuantScheme",
    "PRESETS",
    "get_scheme",
    "QuantParams",
    "calibrate",
    "params_from_range",
    "quantize",
    "dequantize",
    "fake_quantize",
    "codes_to_words",
    "words_to_codes",
    "word_dtype",
    "pack_bits",
    "unpack_bits",
    "ActivationQuantizer",
    "calibrate_activation_range",
    "fake_quantize_activations",
    "NumberFormat",
    "FORMAT_NAMES",
    "resolve_scheme",
]
