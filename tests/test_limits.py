"""One test per input-size limit (accelsim/_limits.py, docs/limits.md).

Each crafts a small input that announces (or would build) something huge and
runs the command in a subprocess whose address space is capped with
``resource.setrlimit``: without the limit the command would run out of memory
(a traceback, or a kill); with it, it exits 2 with one line naming the limit.
"""

import gzip
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from accelsim import _limits
from accelsim.sram import _readers

# Enough for Python, NumPy and torch to start; far below what an unchecked input would allocate.
MEMORY_CAP = 2 << 30

# Every case runs in one capped subprocess (one interpreter start: the suite stays quick).
_RUNNER = """
import contextlib, io, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))
from accelsim.cli import main
results = []
for argv in json.loads(sys.argv[2]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except MemoryError:
            code = "MemoryError"
    results.append([code, err.getvalue().strip().splitlines()])
print(json.dumps(results))
"""


def _cases(d):
    """(name, argv, expected fragment) of every capped case; ``d`` is a scratch folder."""
    mnist, cifar = d / "mnist", d / "cifar"
    sweep = ["sweep", "--quiet", "--voltages", "0.8", "--chips", "1"]
    return [
        ("voltages", ["sweep", "--quiet", "--out", str(d / "o1"), "--voltages", "0.8:0.5:1000000000"],
         f"exceed the limit of {_limits.MAX_VOLTAGES}"),
        ("chips", ["sweep", "--quiet", "--out", str(d / "o2"), "--chips", "1000000000"],
         f"exceeds the limit of {_limits.MAX_CHIPS}"),
        ("points", ["sweep", "--quiet", "--out", str(d / "o3"), "--model", "digits-cnn-normal-8b",
                    "--model", "digits-cnn-randbet-8b", "--chips", "100000", "--voltages", "0.8:0.6:10"],
         f"exceed the limit of {_limits.MAX_SWEEP_POINTS}"),
        ("line", ["profile", "import", "--format", "stuck-at-maps", "--out", str(d / "p1.npz"),
                  str(d / "fmap_sa0_v_0.70.txt")],
         f"exceed the limit of {_limits.MAX_LINE_BYTES} bytes per line"),
        ("idx", [*sweep, "--dataset", f"mnist:{mnist}", "--model", "mnist-lenet-gn-clipping-8b",
                 "--out", str(d / "o4")], f"over the limit of {_limits.MAX_DATASET_BYTES}"),
        ("cifar", [*sweep, "--dataset", f"cifar10:{cifar}", "--out", str(d / "o5")],
         f"exceed the limit of {_limits.MAX_DATASET_BYTES} bytes"),
        ("hex", ["profile", "import", "--format", "fpga-hex", "--out", str(d / "p2.npz"), str(d / "chip-0.5.bin")],
         f"exceed the limit of {_limits.MAX_HEX_DUMP_BYTES} bytes"),
    ]


def _craft(d):
    # One 1.5 MB line: a padded string array of its fields would be cells x line length bytes.
    (d / "fmap_sa0_v_0.70.txt").write_bytes(b"0," * (_limits.MAX_LINE_BYTES // 2 + 1000) + b"0\n" + b"0\n" * 50_000)
    # A gzip bomb: a megabyte of zeros behind a header announcing 1e10 bytes.
    (d / "mnist").mkdir()
    with gzip.open(d / "mnist" / "t10k-images-idx3-ubyte.gz", "wb", compresslevel=1) as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">3I", 100_000, 10_000, 10) + bytes(1 << 20))
    (d / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + bytes(10))
    (d / "cifar" / "cifar-10-batches-py").mkdir(parents=True)
    with open(d / "cifar" / "cifar-10-batches-py" / "test_batch", "wb") as f:
        f.truncate(_limits.MAX_DATASET_BYTES + 1)  # sparse: takes no disk
    with open(d / "chip-0.5.bin", "wb") as f:
        f.truncate(_limits.MAX_HEX_DUMP_BYTES + 1)  # sparse


@pytest.fixture(scope="module")
def capped_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("limits")
    _craft(d)
    cases = _cases(d)
    done = subprocess.run([sys.executable, "-c", _RUNNER, str(MEMORY_CAP), json.dumps([c[1] for c in cases])],
                          capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"}, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    return d, {name: (result, fragment) for (name, _, fragment), result in zip(cases, results)}


@pytest.mark.parametrize("name", ["voltages", "chips", "points", "line", "idx", "cifar", "hex"])
def test_each_limit_is_one_line_and_exit_2_under_a_memory_cap(capped_runs, name):
    d, runs = capped_runs
    (code, lines), fragment = runs[name]
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("accelsim: error:") and fragment in lines[0], lines
    assert not any((d / o).exists() for o in ("o1", "o2", "o3", "o4", "o5", "p1.npz", "p2.npz"))


def test_sweep_limits_lift_with_the_override_flag():
    from accelsim.sweep import parse_voltages

    assert len(parse_voltages("0.8:0.5:20001", max_voltages=None)) == 20001


def test_row_limit_of_a_cells_csv(tmp_path, monkeypatch):
    monkeypatch.setattr(_readers, "MAX_CELL_ROWS", 100)
    raw = _readers.RawFile(tmp_path / "c.csv", b"array,row,col,v_fail_v,fault_kind\n" + b"0,0,0,0.6,0\n" * 101, "")
    with pytest.raises(_readers.ProfileImportError, match="101 lines exceed the limit of 100 rows"):
        _readers.parse_cells_csv(raw)


def test_idx_payload_longer_than_its_header_is_not_read_whole(tmp_path):
    from accelsim.data import DatasetError
    from accelsim.data.idx import read_idx

    path = tmp_path / "labels.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:  # 6 bytes announced, 256 MiB behind them
        f.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 6))
        for _ in range(256):
            f.write(bytes(1 << 20))
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "from accelsim.data.idx import read_idx\n"
            "try:\n    read_idx(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e)")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("DatasetError") and "more than 6 bytes" in done.stdout, done.stderr
    with pytest.raises(DatasetError):
        read_idx(path)


@pytest.mark.parametrize("chunk", [4, 8, 12, 1000])
def test_streamed_hex_dump_equals_the_whole_file_decoding(tmp_path, chunk):
    rng = np.random.default_rng(chunk)
    stored = np.where(rng.random(64) < 0.2, rng.integers(0, 255, 64), 255).astype(np.uint8)
    text = "".join(f"{b:02x}{b:02x}" for b in stored) + "\r\n"
    path = tmp_path / "c-0.5.bin"
    path.write_text(text)
    whole = _readers.decode_hex_dump(_readers.read_file(path), 64)
    zero_bits, n_cells, raw = _readers.stream_hex_dump(path, 64, chunk_bytes=chunk)
    assert np.array_equal(zero_bits, whole[0]) and n_cells == whole[1] == 512
    assert raw.sha256 == _readers.read_file(path).sha256
