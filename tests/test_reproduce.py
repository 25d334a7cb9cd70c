"""benchmarks/reproduce.py: the quick configuration end to end, caching, and its building blocks."""

import importlib.util
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
RATES = (0.01, 0.1)  # the quick configuration's
N_CHIPS = 2


def _load_script():
    spec = importlib.util.spec_from_file_location("reproduce_script", BENCHMARKS / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # puts benchmarks/ on sys.path for _reproduce
    return module


reproduce = _load_script()
from _reproduce.evaluation import CellResult, load_cell, save_cell  # noqa: E402
from _reproduce.faults import FaultModel, fault_profile  # noqa: E402
from _reproduce.plan import PRESETS, build_tables, quick_settings  # noqa: E402
from _reproduce.tables import TOLERATED_RERR, render_table  # noqa: E402

QUICK = ["--quick", "--dataset", "digits"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The quick configuration run once (about 15 s on 2 cores), shared by the end-to-end tests."""
    out = tmp_path_factory.mktemp("reproduce")
    assert reproduce.main([*QUICK, "--stage", "all", "--out", str(out)]) == 0
    return out


def _tables(markdown):
    """``{table name: (header, rows)}`` of the markdown (rows as lists of cell strings)."""
    tables = {}
    for section in re.split(r"^### Table \d+: ", markdown, flags=re.M)[1:]:
        name = section.split("\n", 1)[0].strip()
        lines = [line for line in section.splitlines() if line.startswith("| ")]
        split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
        tables[name] = (split[0], split[1:])
    return tables


def _expected_tables():
    settings = quick_settings("digits", "digits-cnn")
    return {table.name: table for table in build_tables(settings, 0.57)}


@pytest.mark.slow
def test_quick_run_writes_four_tables_with_expected_rows_and_columns(quick_run):
    tables = _tables((quick_run / "tables.md").read_text())
    expected = _expected_tables()
    assert list(tables) == list(expected)
    for name, table in expected.items():
        header, rows = tables[name]
        rate_columns = [f"RErr % @ {100 * r:g}%" for r in RATES]
        assert header[:4 + len(RATES)] == ["model", "faults", "chips", "clean Err %", *rate_columns]
        assert [(row[0], row[1]) for row in rows[:len(table.rows) * len(table.faults)]] == [
            (row.label, fault.label) for row in table.rows for fault in table.faults]
    assert [row[0] for row in tables["presets"][1]] == list(PRESETS)


@pytest.mark.slow
def test_quick_run_cells_are_finite_percentages_over_the_chips(quick_run):
    markdown = (quick_run / "tables.md").read_text()
    assert "pending" not in markdown and "PARTIAL" not in markdown
    for name, (header, rows) in _tables(markdown).items():
        first_rate = header.index(f"RErr % @ {100 * RATES[0]:g}%")
        for row in rows:
            if len(row) < len(header) or not row[first_rate].count("±"):
                continue  # the flatenn table's per-model measures
            clean = float(row[3])
            for cell in row[first_rate:first_rate + len(RATES)]:
                mean, std = (float(part) for part in cell.split("±"))
                assert math.isfinite(mean) and 0 <= mean <= 100 and std >= 0
                assert mean >= clean - 1e-9, f"{name}: RErr below the clean error in {row}"


@pytest.mark.slow
def test_quick_run_reports_sparsity_and_sharpness_per_flatenn_model(quick_run):
    section = (quick_run / "tables.md").read_text().split("Activation sparsity and sharpness")[1]
    rows = [line for line in section.split("### Table")[0].splitlines() if line.startswith("| ")][1:]
    assert len(rows) == len(_expected_tables()["flatenn"].rows)
    for row in rows:
        sparsity, increase, trace = (float(v) for v in row.strip("|").split("|")[1:])
        assert 0 <= sparsity <= 1 and math.isfinite(trace) and increase >= 0


@pytest.mark.slow
def test_rerun_reuses_every_checkpoint_and_cell(quick_run):
    cached = sorted(quick_run.glob("models/*.pt")) + sorted(quick_run.glob("cells/**/*.json"))
    assert cached
    stamps = {path: path.stat().st_mtime_ns for path in cached}
    assert reproduce.main([*QUICK, "--stage", "all", "--out", str(quick_run)]) == 0
    assert {path: path.stat().st_mtime_ns for path in cached} == stamps
    invocations = (quick_run / "invocations.jsonl").read_text().splitlines()
    assert len(invocations) == 2 and json.loads(invocations[0])["stage"] == "all"


@pytest.mark.slow
def test_other_settings_in_the_same_folder_are_refused(quick_run, capsys):
    assert reproduce.main(["--dataset", "digits", "--stage", "tables", "--out", str(quick_run)]) == 2
    message = capsys.readouterr().err
    assert "other settings" in message and "chips" in message and "--out" in message


@pytest.mark.slow
def test_docs_region_between_markers_is_replaced(quick_run, tmp_path):
    docs = tmp_path / "reproduction.md"
    docs.write_text("# before\n<!-- reproduce:begin -->\nold\n<!-- reproduce:end -->\nafter\n")
    assert reproduce.main([*QUICK, "--stage", "tables", "--out", str(quick_run), "--docs", str(docs)]) == 0
    text = docs.read_text()
    assert text.startswith("# before\n<!-- reproduce:begin -->\n") and text.endswith("<!-- reproduce:end -->\nafter\n")
    assert "old" not in text and "### Table 4: generalisation" in text


def test_bad_dataset_is_refused_before_any_work(tmp_path, capsys):
    assert reproduce.main(["--dataset", "imagenet", "--stage", "tables", "--out", str(tmp_path)]) == 2
    assert "imagenet" in capsys.readouterr().err
    assert not (tmp_path / "settings.json").exists()


@pytest.mark.slow
def test_docs_without_markers_is_an_error(quick_run, tmp_path, capsys):
    docs = tmp_path / "plain.md"
    docs.write_text("no markers\n")
    assert reproduce.main([*QUICK, "--stage", "tables", "--out", str(quick_run), "--docs", str(docs)]) == 2
    assert "reproduce:begin" in capsys.readouterr().err
    assert docs.read_text() == "no markers\n"


# -- building blocks ------------------------------------------------------------------
_rates = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6)


@settings(max_examples=30, deadline=None)
@given(robust=_rates, clean=st.floats(0.0, 1.0))
def test_cell_round_trips_and_summarises_like_numpy(tmp_path_factory, robust, clean):
    cell = CellResult(rate=0.01, vdd_v=0.9, chips=tuple(range(len(robust))), robust_error=robust, error=robust,
                      model_ber=[0.01] * len(robust), clean_error=clean, key="k")
    path = tmp_path_factory.mktemp("cell") / "c.json"
    save_cell(path, cell)
    assert load_cell(path, "k", cell.chips) == cell
    assert load_cell(path, "other", cell.chips) is None
    assert load_cell(path, "k", range(len(robust) + 1)) is None
    assert cell.rerr_mean == pytest.approx(np.mean(robust))
    assert cell.rerr_std == pytest.approx(np.std(robust, ddof=1) if len(robust) > 1 else 0.0)


def test_damaged_cell_file_is_recomputed_not_trusted(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("{not json")
    assert load_cell(path, "k", (0,)) is None


def test_cell_rejects_columns_of_other_lengths():
    with pytest.raises(ValueError, match="length"):
        CellResult(rate=0.01, vdd_v=0.9, chips=(0, 1), robust_error=(0.1,), error=(0.1,), model_ber=(0.0,),
                   clean_error=0.0, key="k")


@pytest.mark.parametrize("kind, stuck", [("sa0", 0), ("sa1", 1)])
def test_stuck_at_profiles_hold_only_their_kind_at_the_asked_rate(kind, stuck):
    profile = fault_profile(kind)
    cells = profile.chip_cells(0)
    assert set(np.unique(cells.fault_kind)) == {stuck}
    for rate in (0.001, 0.2):
        assert profile.ber(profile.voltage_for_ber(rate)) == pytest.approx(rate)
        assert profile.ber(profile.voltage_for_ber(rate), chip=3) == pytest.approx(rate, rel=0.1)


def test_fault_model_chips_and_validation():
    assert list(FaultModel("14nm", first_chip=1).chips(3)) == [1, 2, 3]
    assert list(FaultModel("14nm", n_chips=1).chips(25)) == [0]
    with pytest.raises(ValueError, match="kind"):
        FaultModel("bogus")
    with pytest.raises(ValueError, match="first_chip"):
        FaultModel("flip", first_chip=-1)


def test_rows_with_pending_cells_mark_the_table_partial():
    table = _expected_tables()["presets"]
    cell = CellResult(rate=RATES[0], vdd_v=0.9, chips=(0, 1), robust_error=(0.05, 0.07), error=(0.05, 0.07),
                      model_ber=(0.01, 0.01), clean_error=0.01, key="k")
    row = table.rows[0]
    text = render_table(table, RATES, {(row.key, "flip", RATES[0]): cell})
    assert f"PARTIAL: {len(table.rows) * len(RATES) - 1} cells pending" in text
    assert "6.00 ± 12.71" in text  # 95% interval of 2 chips: t(0.975, 1) = 12.71 times 1.41 / sqrt(2)
    assert TOLERATED_RERR == 0.10 and sys.modules["_reproduce.tables"].PENDING in text


def test_v2_interval_and_pending_tables(tmp_path):
    from _reproduce.v2 import MODELS, V2Run, V2Settings, _normal_of, ci95_halfwidth

    assert ci95_halfwidth([0.1]) == 0.0
    # 4 chips: t(0.975, 3) = 3.182; std 0.01291 of (0.1, 0.12, 0.11, 0.13) / 2.
    assert ci95_halfwidth([0.1, 0.12, 0.11, 0.13]) == pytest.approx(3.1824 * 0.0129099 / 2, rel=1e-4)
    assert _normal_of("fashion-mnist-simplenet-randbet-8b") == "fashion-mnist-simplenet-normal-8b"
    run = V2Run(tmp_path, V2Settings(chips=2, test_limit=16), lambda message: None)
    text = run.markdown()
    assert "Fault statistics" in text and "Headline" in text
    for name in MODELS:
        if name not in run.available():
            assert f"| {name} | " in text


def test_v2_generalisation_trains_on_one_chip_and_renders_own_and_other_chips(tmp_path):
    from _reproduce.v2_generalisation import EPOCHS, EVAL_RATES, TRAIN_CHIP, Generalisation

    from accelsim import load_profile

    gen = Generalisation(tmp_path, "k", chips=3, test_limit=16, dataset=f"mnist:{tmp_path}", progress=lambda m: None)
    assert gen.other_chips == (1, 2, 3) and TRAIN_CHIP not in gen.other_chips
    clipped = {m.clipped: gen.config(m) for m in gen.fault_aware if m.profile == "14nm-columns"}
    assert clipped[False].clip is None and clipped[True].clip == 0.1
    config = clipped[False]
    assert config.fault_chip == TRAIN_CHIP and config.fault_model.startswith("profile:14nm-columns@")
    assert {gen.config(m).epochs for m in gen.fault_aware} == {EPOCHS}
    vdd_v = float(config.fault_model.rsplit("@", 1)[1])
    assert load_profile("14nm-columns").ber(vdd_v) == pytest.approx(0.025, rel=0.01)
    row = gen.fault_aware[0].name
    own = CellResult(rate=EVAL_RATES[0], vdd_v=0.6, chips=(TRAIN_CHIP,), robust_error=(0.031,), error=(0.031,),
                     model_ber=(0.001,), clean_error=0.03, key="k")
    others = CellResult(rate=EVAL_RATES[0], vdd_v=0.6, chips=(1, 2, 3), robust_error=(0.1, 0.2, 0.3),
                        error=(0.1, 0.2, 0.3), model_ber=(0.001,) * 3, clean_error=0.03, key="k")
    save_cell(gen._cell_path(row, "14nm", (TRAIN_CHIP,), EVAL_RATES[0]), own)
    save_cell(gen._cell_path(row, "14nm", (1, 2, 3), EVAL_RATES[0]), others)
    text = gen.markdown(lambda values: 0.05)
    assert f"faulty cells, {EPOCHS} epoch" in text.splitlines()[0]
    line = next(line for line in text.splitlines() if line.startswith("| fault-aware, unclipped | `14nm` |"))
    cells = [c.strip() for c in line.strip("|").split("|")][2:]
    assert cells[0] == "3.10" and cells[len(EVAL_RATES)] == "20.00 ± 5.00"
    assert cells.count("pending") == 2 * len(EVAL_RATES) - 2


def test_v2_presets_train_one_model_per_scheme(tmp_path):
    from _reproduce.v2_presets import EPOCHS, RATES, PresetsQAT

    from accelsim.quant import PRESETS

    table = PresetsQAT(tmp_path, "k", chips=2, test_limit=16, dataset=f"mnist:{tmp_path}", progress=lambda m: None)
    assert {table.config(p).scheme for p in PRESETS} == set(PRESETS)
    assert {table.config(p).epochs for p in PRESETS} == {EPOCHS}
    assert len({table.name(p) for p in PRESETS}) == len(PRESETS)
    cell = CellResult(rate=RATES[0], vdd_v=0.6, chips=(0, 1), robust_error=(0.02, 0.04), error=(0.02, 0.04),
                      model_ber=(0.001, 0.001), clean_error=0.015, key="k")
    save_cell(table._cell_path("unsigned", RATES[0]), cell)
    lines = table.markdown(lambda values: 0.01).splitlines()
    assert f"{EPOCHS} epochs each" in lines[0]
    assert "| unsigned | 1.50 | 3.00 ± 1.00 | pending |" in "\n".join(lines)
    assert sum(line.count("pending") for line in lines if line.startswith("| global |")) == len(RATES) + 1
