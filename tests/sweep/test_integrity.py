"""Results integrity: fingerprints on resume, unique labels, damaged journals, locks, safe writes."""

import json
import shutil
from pathlib import Path

import pytest

import accelsim
from accelsim._safeio import FolderBusyError, FolderLock
from accelsim.models.zoo import ZOO_DIR
from accelsim.sweep import SweepError, SweepSpec, run_sweep
from accelsim.sweep.runner import SweepOutputError

MODEL = "digits-cnn-normal-8b"
PROFILES_DIR = Path(accelsim.__file__).parent / "_profiles"


def _spec(**changes):
    base = dict(models=(MODEL,), profile="14nm", voltages_v=(0.8, 0.58, 0.54), chips=2, limit=60)
    return SweepSpec(**{**base, **changes})


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return run_sweep(_spec(), tmp_path_factory.mktemp("clean"))


def _stop_after(n):
    class Stop(Exception):
        pass

    def progress(event):
        if event.done == n:
            raise Stop

    return Stop, progress


def test_resume_refuses_a_changed_profile_file(tmp_path):
    profile = tmp_path / "chip.npz"
    shutil.copy(PROFILES_DIR / "14nm.npz", profile)
    spec = _spec(profile=str(profile))
    stop, progress = _stop_after(2)
    with pytest.raises(stop):
        run_sweep(spec, tmp_path / "out", progress=progress)
    shutil.copy(PROFILES_DIR / "14nm-columns.npz", profile)
    with pytest.raises(SweepError, match="the profile file changed"):
        run_sweep(spec, tmp_path / "out", resume=True)
    assert len((tmp_path / "out" / "journal.jsonl").read_text().splitlines()) == 2


def test_resume_refuses_a_changed_checkpoint(tmp_path):
    checkpoint = tmp_path / "mine.pt"
    shutil.copy(ZOO_DIR / f"{MODEL}.pt", checkpoint)
    spec = _spec(models=(str(checkpoint),))
    stop, progress = _stop_after(2)
    with pytest.raises(stop):
        run_sweep(spec, tmp_path / "out", progress=progress)
    shutil.copy(ZOO_DIR / "digits-cnn-randbet-8b.pt", checkpoint)
    with pytest.raises(SweepError, match="model mine changed"):
        run_sweep(spec, tmp_path / "out", resume=True)


def test_resume_refuses_other_code_versions(tmp_path, monkeypatch):
    stop, progress = _stop_after(2)
    with pytest.raises(stop):
        run_sweep(_spec(), tmp_path, progress=progress)
    monkeypatch.setattr("accelsim.sweep.runner.__version__", "99.0")
    with pytest.raises(SweepError, match="accelsim version .* -> 99.0"):
        run_sweep(_spec(), tmp_path, resume=True)


def test_resume_without_sweep_json_is_refused_not_mixed(tmp_path):
    stop, progress = _stop_after(2)
    with pytest.raises(stop):
        run_sweep(_spec(), tmp_path, progress=progress)
    (tmp_path / "sweep.json").unlink()
    with pytest.raises(SweepError, match="no sweep.json"):
        run_sweep(_spec(), tmp_path, resume=True)


def test_same_checkpoint_name_in_two_folders_gets_two_labels(tmp_path):
    # Labels are disambiguated deterministically (in the order given), so no model's rows vanish.
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(ZOO_DIR / f"{MODEL}.pt", tmp_path / folder / "net.pt")
    a, b = str(tmp_path / "a" / "net.pt"), str(tmp_path / "b" / "net.pt")
    assert _spec(models=(a, b)).labels == ("net", "net-2")
    assert _spec(models=(b, a)).labels == ("net", "net-2")


def test_zoo_name_and_file_of_the_same_stem_get_two_labels(tmp_path):
    shutil.copy(ZOO_DIR / f"{MODEL}.pt", tmp_path / f"{MODEL}.pt")
    labels = _spec(models=(MODEL, str(tmp_path / f"{MODEL}.pt"))).labels
    assert labels == (MODEL, f"{MODEL}-2")


@pytest.mark.parametrize("bad", [
    b"garbage that is not json\n",
    b"\x00\x00\x00\x00\x00\x00\n",
    b'{"model": "m", "chip": 0}\n',
    b'"a string"\n',
])
def test_damaged_journal_lines_are_reported_and_recomputed(clean, tmp_path, bad):
    stop, progress = _stop_after(3)
    with pytest.raises(stop):
        run_sweep(_spec(), tmp_path, progress=progress)
    journal = tmp_path / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    row = json.loads(lines[1])
    wrong_type = json.dumps({**row, "chip": "one"}).encode() + b"\n"
    journal.write_bytes(lines[0] + bad + wrong_type + lines[2])
    seen = []
    result = run_sweep(_spec(), tmp_path, resume=True, progress=seen.append)
    assert result.damaged_journal_lines == 2
    assert len(seen) == 6 - 2  # the replaced row is computed again
    for name in ("sweep.csv", "summary.csv"):
        assert (tmp_path / name).read_bytes() == (clean.directory / name).read_bytes()


def test_a_second_writer_is_kept_off_the_folder(tmp_path):
    with FolderLock(tmp_path):
        with pytest.raises(FolderBusyError, match="another accelsim sweep is writing"):
            run_sweep(_spec(), tmp_path)
    assert not (tmp_path / "sweep.json").exists()
    run_sweep(_spec(chips=1, voltages_v=(0.8,)), tmp_path)  # released: a later run proceeds


def test_checks_that_can_fail_run_before_anything_is_written(tmp_path):
    with pytest.raises(SweepError, match="seed = -1: expected"):
        run_sweep(_spec(seed=-1), tmp_path / "a")
    with pytest.raises(ValueError, match="0.95"):
        run_sweep(_spec(voltages_v=(0.95, 0.7)), tmp_path / "b")
    with pytest.raises(SweepError, match="limit of"):
        run_sweep(_spec(chips=10**9), tmp_path / "c")
    assert not any((tmp_path / n).exists() for n in "abc")


def test_resume_keeps_the_first_start_time_and_records_each_resume(tmp_path):
    stop, progress = _stop_after(2)
    with pytest.raises(stop):
        run_sweep(_spec(), tmp_path, progress=progress)
    first = json.loads((tmp_path / "sweep.json").read_text())
    assert first["resumes"] == [] and first["end_time"] is None
    first["start_time"] = "2001-01-01T00:00:00+00:00"  # so that keeping it is visible
    (tmp_path / "sweep.json").write_text(json.dumps(first))
    run_sweep(_spec(), tmp_path, resume=True)
    run_sweep(_spec(), tmp_path, resume=True)
    record = json.loads((tmp_path / "sweep.json").read_text())
    assert record["start_time"] == "2001-01-01T00:00:00+00:00"
    assert len(record["resumes"]) == 2 and record["end_time"]


def test_planted_symlinks_are_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("sweep.csv", "summary.csv", ".accelsim-write-test", "sweep.csv.tmp", "energy_accuracy.png"):
        (out / name).symlink_to(victim)
    result = run_sweep(_spec(chips=1, voltages_v=(0.8, 0.54)), out)
    assert victim.read_text() == "precious"
    assert not (out / "sweep.csv").is_symlink() and len(result.rows) == 2


def test_a_symlinked_journal_is_refused_with_one_line(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    stop, progress = _stop_after(1)
    with pytest.raises(stop):
        run_sweep(_spec(), tmp_path / "out", progress=progress)
    (tmp_path / "out" / "journal.jsonl").unlink()
    (tmp_path / "out" / "journal.jsonl").symlink_to(victim)
    with pytest.raises(SweepOutputError, match="symlink"):
        run_sweep(_spec(), tmp_path / "out", resume=True)
    assert victim.read_text() == "precious"
