"""kill -9 at random moments, then --resume: a few trials of benchmarks/kill_resume.py (its 50-trial run is in the notes)."""

import importlib.util
from pathlib import Path

import pytest


@pytest.mark.slow
def test_random_kills_always_leave_a_resumable_folder(capsys):
    path = Path(__file__).parents[2] / "benchmarks" / "kill_resume.py"
    spec = importlib.util.spec_from_file_location("kill_resume", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--trials", "3", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "summary: 3/3 folders resumed to byte-identical results" in out
