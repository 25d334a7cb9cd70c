"""Tests of accelsim.data.idx: the IDX reader and writer."""

import gzip
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from accelsim.data._spec import DatasetError
from accelsim.data.idx import IDX_DTYPES, read_idx, read_idx_shape, write_idx


def _hand_made_idx(values, shape, type_code=0x08):
    header = bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    return header + bytes(values)


def test_read_idx_decodes_a_hand_made_file(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(_hand_made_idx(range(12), (2, 3, 2)))
    array = read_idx(path)
    assert array.dtype == np.uint8
    np.testing.assert_array_equal(array, np.arange(12).reshape(2, 3, 2))


def test_read_idx_decodes_big_endian_ints(tmp_path):
    path = tmp_path / "ints"
    path.write_bytes(_hand_made_idx(struct.pack(">2i", 1, -2), (2,), type_code=0x0C))
    np.testing.assert_array_equal(read_idx(path), [1, -2])


def test_read_idx_recognises_gzip_by_content(tmp_path):
    path = tmp_path / "images-without-suffix"
    path.write_bytes(gzip.compress(_hand_made_idx(range(6), (6,))))
    np.testing.assert_array_equal(read_idx(path), np.arange(6))


_ARRAYS = st.sampled_from(sorted({d.newbyteorder("=").str for d in IDX_DTYPES.values()})).flatmap(
    lambda dtype: hnp.arrays(np.dtype(dtype), hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
                             elements=None if np.dtype(dtype).kind != "f" else st.floats(-1e3, 1e3, width=32)))


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(array=_ARRAYS, compress=st.booleans())
def test_write_then_read_round_trips(tmp_path, array, compress):
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=") and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert read_idx_shape(path) == (array.dtype.newbyteorder(">"), array.shape)


def test_read_idx_shape_reads_only_the_header(tmp_path):
    path = tmp_path / "big.gz"
    # Truncated payload: a header-only read must not notice.
    path.write_bytes(gzip.compress(_hand_made_idx(range(3), (1000, 28, 28))))
    dtype, shape = read_idx_shape(path)
    assert dtype == np.uint8 and shape == (1000, 28, 28)


@pytest.mark.parametrize("content", [b"PK\x03\x04 a zip file", b"\x00\x00\x07\x01abcd", b"\x00\x00\x08\x00", b""])
def test_bad_magic_is_reported_with_the_file(tmp_path, content):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=rf"{path} is not an IDX file: its magic number is .*expected 0000TTNN"):
        read_idx(path)


def test_truncated_header_is_reported(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DatasetError, match=r"truncated inside its IDX header \(3 dimensions"):
        read_idx(path)


@pytest.mark.parametrize("n_values, held", [(5, "5"), (7, "more than 6"), (600, "more than 6")])
def test_payload_size_must_match_the_header(tmp_path, n_values, held):
    path = tmp_path / "labels"
    path.write_bytes(_hand_made_idx([v % 256 for v in range(n_values)], (6,)))
    with pytest.raises(DatasetError, match=rf"holds {held} bytes of data but its IDX header 6 announces 6"):
        read_idx(path)


def test_broken_gzip_is_reported_with_the_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_hand_made_idx(range(100), (100,)))[:-30])
    with pytest.raises(DatasetError, match=rf"cannot read {path}: .*replace it with an intact copy"):
        read_idx(path)


def test_write_idx_rejects_unsupported_arrays(tmp_path):
    with pytest.raises(ValueError, match="cannot store a 1-D uint16 array as IDX"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint16))
    with pytest.raises(ValueError, match="cannot store a 0-D uint8 array"):
        write_idx(tmp_path / "x", np.uint8(3))
