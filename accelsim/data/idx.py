"""The IDX file format of MNIST, plain or gzipped.

An IDX file starts with a 4-byte magic number ``0x00 0x00 TYPE NDIM``, then
``NDIM`` big-endian uint32 dimensions, then the values in C order, big-endian.
"""

import gzip
import math
import struct
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from accelsim._limits import MAX_DATASET_BYTES
from accelsim.data._spec import DatasetError

__all__ = ["IDX_DTYPES", "read_idx", "read_idx_shape", "write_idx"]

IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_TYPE_CODES = {dtype.newbyteorder(">"): code for code, dtype in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def _open(path):
    path = Path(path)
    with open(path, "rb") as f:
        gzipped = f.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _parse_header(path, stream):
    magic = stream.read(4)
    if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in IDX_DTYPES or magic[3] == 0:
        raise DatasetError(f"{path} is not an IDX file: its magic number is {magic.hex() or 'missing'}, "
                           "expected 0000TTNN (TT a type code such as 08 for bytes, NN the number of "
                           "dimensions); replace it with an intact copy")
    ndim = magic[3]
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DatasetError(f"{path} is truncated inside its IDX header ({ndim} dimensions announced); "
                           "replace it with an intact copy")
    return IDX_DTYPES[magic[2]], struct.unpack(f">{ndim}I", raw_dims)


@contextmanager
def _reading(path):
    """Open an IDX file; turn decompression and I/O failures into a `DatasetError`."""
    try:
        with _open(path) as stream:
            yield stream
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"cannot read {path}: {exc}; replace it with an intact copy") from exc


def read_idx_shape(path):
    """Type and dimensions from an IDX header, reading nothing else.

    Parameters
    ----------
    path : str or path-like
        A plain or gzipped IDX file (gzip is recognised by its content).

    Returns
    -------
    dtype : numpy.dtype
    shape : tuple of int
    """
    with _reading(path) as stream:
        return _parse_header(path, stream)


def read_idx(path):
    """Read a whole IDX file, checking that its size matches its header.

    Parameters
    ----------
    path : str or path-like
        A plain or gzipped IDX file (gzip is recognised by its content).

    Returns
    -------
    ndarray
        Shape and dtype from the header, native byte order; read-only when
        the file's byte order is already native (bytes always are), since
        it then shares the memory of the decoded file.

    Raises
    ------
    DatasetError
        If the magic number is wrong, the header announces more than
        ``MAX_DATASET_BYTES`` (checked before reading the data), or the data
        is shorter or longer than the header says.
    """
    with _reading(path) as stream:
        dtype, shape = _parse_header(path, stream)
        expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
        if expected > MAX_DATASET_BYTES:
            raise DatasetError(f"{path}: its IDX header {'x'.join(map(str, shape))} announces {expected} "
                               f"bytes, over the limit of {MAX_DATASET_BYTES} (docs/limits.md); "
                               "replace it with an intact copy")
        # One byte more than announced is enough to see a file that is too long (a gzip bomb stops here).
        payload = stream.read(expected + 1)
    if len(payload) != expected:
        held = f"more than {expected}" if len(payload) > expected else str(len(payload))
        raise DatasetError(f"{path} holds {held} bytes of data but its IDX header "
                           f"{'x'.join(map(str, shape))} announces {expected}; the file is truncated "
                           "or corrupt, replace it with an intact copy")
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def write_idx(path, array, *, compress=None):
    """Write ``array`` as an IDX file.

    Parameters
    ----------
    path : str or path-like
    array : ndarray
        uint8, int8, int16, int32, float32 or float64, at least 1-D.
    compress : bool, optional
        Gzip the file; by default when ``path`` ends in ``.gz``.
    """
    array = np.asarray(array)
    big_endian = array.dtype.newbyteorder(">")
    if array.ndim == 0 or big_endian not in _TYPE_CODES:
        raise ValueError(f"cannot store a {array.ndim}-D {array.dtype} array as IDX")
    header = bytes([0, 0, _TYPE_CODES[big_endian], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    content = header + array.astype(big_endian, copy=False).tobytes()
    if compress is None:
        compress = str(path).endswith(".gz")
    Path(path).write_bytes(gzip.compress(content, mtime=0) if compress else content)
