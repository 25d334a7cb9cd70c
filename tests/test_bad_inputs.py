"""The bad-input corpus: every case is one line on stderr, exit 2, and the message's expected first words.

tests/bad_inputs/cases.json lists argument lists (``{files}`` is a copy of
tests/bad_inputs/files, the crafted files, with the FPGA dumps and CIFAR
batches of :func:`_write_generated` beside them; ``{tmp}`` a scratch folder) with
the expected start of the message after ``accelsim: error:``. All cases run
in one subprocess (one interpreter start), so the corpus can grow cheaply.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent / "bad_inputs"
CASES = json.loads((HERE / "cases.json").read_text())
# Sweep cases get a small sweep around them, so that a case that is wrongly accepted ends quickly.
_SWEEP_BASE = ["--quiet", "--voltages", "0.8,0.6", "--chips", "1", "--limit", "20"]

_RUNNER = """
import contextlib, io, json, sys
from accelsim.cli import main
results = []
for argv in json.loads(sys.stdin.read()):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:
            code = "uncaught " + type(exc).__name__
            err.write("Traceback: " + repr(exc))
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""


def _write_generated(files):
    """Malformed inputs in the formats of the shared data, written here rather than kept as binaries.

    Hex dumps of an FPGA block RAM (all bits set) with no voltage in the name,
    a voltage of 0 V in it, a non-hex character, and a length that is no whole
    number of arrays; CIFAR batches of two blank images whose labels are 2-D
    or a string.
    """
    (files / "chip.bin").write_bytes(b"f" * 16384)
    (files / "c-0.5.bin").write_bytes(b"f" * 200 + b"zz")
    (files / "odd-0.5.bin").write_bytes(b"f" * 2002)
    (files / "zero-0.bin").write_bytes(b"f" * 32768)
    blank = np.zeros((2, 3072), np.uint8)
    for name, labels in (("cifar_2dlabels", np.zeros((2, 1), np.int64)), ("cifar_badlabels", "ab")):
        folder = files / name / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        (folder / "test_batch").write_bytes(pickle.dumps({"data": blank, "labels": labels}, protocol=2))


def _fill(text, files, tmp):
    return text.replace("{files}", str(files)).replace("{tmp}", str(tmp))


def _argv(case, index, files, tmp):
    argv = [_fill(a, files, tmp) for a in case["argv"]]
    if argv[0] == "sweep":
        argv = ["sweep", *_SWEEP_BASE, "--out", str(tmp / f"out{index}"), *argv[1:]]
    return argv


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("corpus")
    files = tmp / "files"
    shutil.copytree(HERE / "files", files)
    _write_generated(files)
    argvs = [_argv(case, i, files, tmp) for i, case in enumerate(CASES)]
    done = subprocess.run([sys.executable, "-c", _RUNNER], input=json.dumps(argvs), capture_output=True,
                          text=True, env={**os.environ, "MPLBACKEND": "Agg"}, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return files, tmp, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("index", range(len(CASES)), ids=[" ".join(c["argv"])[:60] for c in CASES])
def test_bad_input_is_one_line_exit_2_with_the_expected_words(outcomes, index):
    files, tmp, results = outcomes
    code, err = results[index]
    expect = _fill(CASES[index]["expect"], files, tmp)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(f"accelsim: error: {expect}"), lines[0]
    assert not (tmp / f"out{index}").exists() or not any((tmp / f"out{index}").iterdir())


def test_the_corpus_is_not_trivial():
    assert len(CASES) >= 40 and len({c["expect"] for c in CASES}) >= 35
