"""End-to-end sweeps on the embedded digits data and the zoo's digits models."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from accelsim.sweep import SweepError, SweepSpec, run_sweep
from accelsim.sweep.results import POINT_COLUMNS, read_csv

MODELS = ("digits-cnn-normal-8b", "digits-cnn-randbet-8b")


def _spec(**changes):
    base = dict(models=MODELS, profile="14nm", voltages_v=(0.8, 0.62, 0.58, 0.56, 0.54), chips=2,
                limit=120)
    return SweepSpec(**{**base, **changes})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    return run_sweep(_spec(), out)


def test_writes_every_point_with_contract_columns(finished):
    rows = read_csv(finished.directory / "sweep.csv")
    assert list(rows[0]) == list(POINT_COLUMNS)
    assert len(rows) == 2 * 2 * 5
    keys = [(r["model"], int(r["chip"]), -float(r["vdd_v"])) for r in rows]
    assert keys == sorted(keys)


def test_faults_grow_as_voltage_drops(finished):
    for model in MODELS:
        for chip in (0, 1):
            faulty = [r["faulty_cells"] for r in finished.rows if r["model"] == model and r["chip"] == chip]
            assert faulty == sorted(faulty) and faulty[0] == 0 and faulty[-1] > 0


def test_nominal_point_is_the_clean_model(finished):
    for row in finished.rows:
        if row["vdd_v"] == 0.8:
            assert row["accuracy"] == row["clean_accuracy"] and row["robust_error"] == row["error"]
            assert row["energy_rel"] == 1.0


def test_energy_falls_with_voltage_and_model_ber_counts_footprint(finished):
    from accelsim.models import load_model

    rows = [r for r in finished.rows if r["model"] == MODELS[0] and r["chip"] == 0]
    energies = [r["energy_j"] for r in rows]
    assert energies == sorted(energies, reverse=True)
    stored_bits = load_model(MODELS[0]).stored_bits
    assert all(r["model_ber"] == r["flipped_bits"] / stored_bits for r in rows)
    assert all(r["flipped_bits"] <= r["faulty_cells"] for r in rows)
    assert rows[-1]["flipped_bits"] > 0  # so the equality above is not 0 == 0


def test_summary_and_spec_files(finished):
    summary = read_csv(finished.directory / "summary.csv")
    assert len(summary) == 2 * 5 and {"pareto", "accuracy_ci95_low"} <= set(summary[0])
    record = json.loads((finished.directory / "sweep.json").read_text())
    assert record["spec"]["models"] == list(MODELS)
    assert len(record["fingerprints"]["profile"]) == 64 and record["end_time"]


def test_same_spec_gives_identical_bytes(finished, tmp_path):
    again = run_sweep(_spec(), tmp_path)
    assert (again.directory / "sweep.csv").read_bytes() == (finished.directory / "sweep.csv").read_bytes()


def test_interrupted_sweep_resumes_to_identical_files(finished, tmp_path):
    class Stop(Exception):
        pass

    def stop_after_seven(event):
        if event.done == 7:
            raise Stop

    with pytest.raises(Stop):
        run_sweep(_spec(), tmp_path, progress=stop_after_seven)
    assert len((tmp_path / "journal.jsonl").read_text().splitlines()) == 7
    seen = []
    run_sweep(_spec(), tmp_path, resume=True, progress=seen.append)
    assert len(seen) == 20 - 7 and seen[0].done == 8
    for name in ("sweep.csv", "summary.csv"):
        assert (tmp_path / name).read_bytes() == (finished.directory / name).read_bytes()


def test_existing_results_need_resume(finished):
    with pytest.raises(SweepError, match="--resume"):
        run_sweep(_spec(), finished.directory)


def test_resume_with_another_spec_is_refused(finished):
    with pytest.raises(SweepError, match="different spec.*chips"):
        run_sweep(_spec(chips=3), finished.directory, resume=True)


def _copy_results(finished, tmp_path):
    for name in ("journal.jsonl", "sweep.json"):
        (tmp_path / name).write_bytes((finished.directory / name).read_bytes())
    return tmp_path


def test_resume_of_a_record_from_before_the_second_wave_fields(finished, tmp_path):
    # The first wave's sweep.json had no protections, metric, scheme, ...: they count as their defaults.
    out = _copy_results(finished, tmp_path)
    record = json.loads((out / "sweep.json").read_text())
    for name in ("protections", "on_detect", "tolerance_pp", "bank_voltages", "scheme", "metric", "attack"):
        del record["spec"][name]
    (out / "sweep.json").write_text(json.dumps(record))
    seen = []
    run_sweep(_spec(), out, resume=True, progress=seen.append)
    assert seen == []  # every point came from the journal
    assert (out / "sweep.csv").read_bytes() == (finished.directory / "sweep.csv").read_bytes()
    with pytest.raises(SweepError, match=r"differs in metric\)"):
        run_sweep(_spec(metric="top5"), out, resume=True)


def test_resume_with_another_batch_size_keeps_the_rows(finished, tmp_path):
    out = _copy_results(finished, tmp_path)
    run_sweep(_spec(batch_size=7), out, resume=True)
    assert (out / "sweep.csv").read_bytes() == (finished.directory / "sweep.csv").read_bytes()
    with pytest.raises(SweepError, match=r"differs in torch_threads\)"):
        run_sweep(_spec(torch_threads=2), out, resume=True)


def test_voltage_outside_profile_is_refused(tmp_path):
    with pytest.raises(ValueError, match="0.9"):
        run_sweep(_spec(voltages_v=(0.9, 0.7)), tmp_path)
    assert not (tmp_path / "journal.jsonl").exists()


def test_unknown_model_lists_zoo(tmp_path):
    with pytest.raises(ValueError, match="digits-cnn-normal-8b"):
        run_sweep(_spec(models=("no-such-model",)), tmp_path)


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SweepError, match="writable"):
        run_sweep(_spec(), blocker / "out")


@pytest.mark.slow
def test_dask_local_cluster_matches_local_executor(finished, tmp_path):
    result = run_sweep(_spec(), tmp_path, executor="dask")
    assert (result.directory / "sweep.csv").read_bytes() == (finished.directory / "sweep.csv").read_bytes()


def test_unreachable_dask_scheduler(tmp_path):
    with pytest.raises(SweepError, match="cannot reach"):
        run_sweep(_spec(), tmp_path, executor="dask:tcp://127.0.0.1:9")


@pytest.mark.slow
def test_kill_9_then_resume_gives_identical_files(finished, tmp_path):
    args = [sys.executable, "-m", "accelsim", "sweep", "--quiet", "--out", str(tmp_path),
            "--model", MODELS[0], "--model", MODELS[1], "--profile", "14nm", "--chips", "2",
            "--voltages", "0.8,0.62,0.58,0.56,0.54", "--limit", "120"]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and len(journal.read_bytes().splitlines()) >= 3:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # The kill must have landed mid-sweep, or the test proves nothing about resuming.
    assert process.returncode == -signal.SIGKILL
    assert 3 <= len(journal.read_bytes().splitlines()) < 20
    done = subprocess.run(args + ["--resume"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in ("sweep.csv", "summary.csv"):
        assert (tmp_path / name).read_bytes() == (finished.directory / name).read_bytes()


def test_requantized_models_are_labelled_and_read_fewer_bits(finished, tmp_path):
    four = run_sweep(_spec(bits=4, chips=1, voltages_v=(0.8, 0.56)), tmp_path)
    eight = {(r["model"], r["vdd_v"]): r for r in finished.rows if r["chip"] == 0}
    for row in four.rows:
        assert row["bits"] == 4 and row["model"].endswith("@4b")
        same = eight[(row["model"][:-3], row["vdd_v"])]
        assert row["weight_mem_energy_j"] < same["weight_mem_energy_j"]


def test_the_package_is_callable_as_a_shorthand(tmp_path):
    import accelsim

    result = accelsim.sweep(_spec(models=MODELS[:1], chips=1, voltages_v=(0.8, 0.56), limit=50), tmp_path)
    assert [r["vdd_v"] for r in result.rows] == [0.8, 0.56]


def test_batch_size_is_chosen_recorded_and_changes_no_result(finished, tmp_path):
    record = json.loads((finished.directory / "sweep.json").read_text())
    chosen = record["spec"]["batch_size"]
    assert isinstance(chosen, int) and chosen >= 128
    again = run_sweep(_spec(batch_size=7), tmp_path)
    assert (again.directory / "sweep.csv").read_bytes() == (finished.directory / "sweep.csv").read_bytes()


def test_batch_threads_change_no_result(finished, tmp_path):
    from accelsim.sweep.unit import run_unit

    spec = _spec(batch_size=16, dataset="digits")  # run_sweep fills the dataset in; run_unit does not
    rows = {threads: [] for threads in (1, 3)}
    for threads, out in rows.items():
        run_unit(spec, MODELS[0], 1, {}, out.append, batch_threads=threads)
    assert rows[1] == rows[3]
    assert rows[1] == [r for r in finished.rows if r["model"] == MODELS[0] and r["chip"] == 1]
