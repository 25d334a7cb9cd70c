"""Units of sweep work: several chips in one pass give the rows of one chip at a time."""

import pytest

from accelsim.sweep import SweepSpec
from accelsim.sweep.unit import run_chips, run_unit

MODEL = "digits-cnn-normal-8b"


def _key(row):
    return (row["chip"], row["protection"], row["bank_vdd_v"], row["vdd_v"])


def _spec(**changes):
    base = dict(models=(MODEL,), profile="14nm", voltages_v=(0.8, 0.62, 0.58, 0.56, 0.54), chips=4,
                limit=120, batch_size=32, dataset="digits")
    return SweepSpec(**{**base, **changes})


@pytest.mark.parametrize("changes", [{}, {"protections": ("none", "parity:8")}])
def test_chips_in_one_pass_give_the_rows_of_one_chip_at_a_time(changes, monkeypatch):
    from accelsim.engine import multipoint

    calls = []
    original = multipoint.read_points
    monkeypatch.setattr(multipoint, "read_points",
                        lambda evaluators, voltages: calls.append({e.chip for e in evaluators}) or
                        original(evaluators, voltages))
    spec = _spec(**changes)
    chips = [0, 1, 2, 3]
    alone = []
    for chip in chips:
        run_unit(spec, MODEL, chip, {}, alone.append)
    together = []
    run_chips(spec, MODEL, chips, [{}] * len(chips), together.append)
    # Rows are reported as their points finish, so their order may differ; their content may not.
    assert sorted(together, key=_key) == sorted(alone, key=_key)
    assert calls[-1] == {0, 1, 2, 3}  # one pass over every chip's points
    assert len({r["chip"] for r in together}) == 4 and any(r["faulty_cells"] for r in together)


def test_chips_in_one_pass_skip_the_rows_already_done():
    spec = _spec()
    first = []
    run_unit(spec, MODEL, 1, {}, first.append)
    done = {(r["protection"], r["vdd_v"], r["bank_vdd_v"]): r for r in first[:3]}
    rows = []
    run_chips(spec, MODEL, [0, 1], [{}, done], rows.append)
    assert sorted((r for r in rows if r["chip"] == 1), key=_key) == sorted(first[3:], key=_key)
    with pytest.raises(ValueError, match="done-row"):
        run_chips(spec, MODEL, [0, 1], [{}], rows.append)


def test_a_large_model_sweeps_its_chips_one_at_a_time_with_the_same_rows(monkeypatch):
    from accelsim.engine import multipoint, sparse
    from accelsim.sweep import unit

    spec = _spec(chips=3)
    alone = []
    for chip in range(3):
        run_unit(spec, MODEL, chip, {}, alone.append)
    calls = []
    original = multipoint.read_points
    monkeypatch.setattr(multipoint, "read_points", lambda e, v: calls.append({x.chip for x in e}) or original(e, v))
    monkeypatch.setattr(sparse, "LARGE_MODEL_WORD_BYTES", 1)  # every model is large: lazy weights
    unit._cached_model.cache_clear()
    try:
        large = []
        run_chips(spec, MODEL, [0, 1, 2], [{}] * 3, large.append)
        assert isinstance(unit.load_unit_inputs(spec, 0)[1].clean_weights, sparse.LazyWeights)
    finally:
        unit._cached_model.cache_clear()  # no lazy model left for other tests
    # No pass shared by chips: one chip's placement in memory at a time (rows arrive in no fixed order).
    assert sorted(large, key=_key) == sorted(alone, key=_key) and all(len(chips) == 1 for chips in calls)
    assert any(r["faulty_cells"] for r in large)


def test_each_point_is_reported_before_the_next_one_runs(monkeypatch):
    from accelsim.engine import evaluate, multipoint

    rows, reported_at_run = [], []
    original_group, original_from = multipoint._run_group, evaluate.CleanRun.run_from

    def group(*args):
        reported_at_run.append(len(rows))
        return original_group(*args)

    def run_from(self, *args, **kwargs):
        reported_at_run.append(len(rows))
        return original_from(self, *args, **kwargs)

    monkeypatch.setattr(multipoint, "_run_group", group)
    monkeypatch.setattr(evaluate.CleanRun, "run_from", run_from)
    monkeypatch.setattr(multipoint, "STACK_BYTES", 1)  # one point per layer call
    spec = _spec()
    run_chips(spec, MODEL, [0, 1, 2], [{}] * 3, rows.append)
    assert len(reported_at_run) > 3
    # Every run starts after the rows of the runs before it were reported.
    assert all(a < b for a, b in zip(reported_at_run, reported_at_run[1:]))
    assert len(rows) == 3 * len(spec.voltages_v)


def test_rows_do_not_depend_on_the_batch_threads():
    # Each thread runs the spec's batch divided among the threads (accelsim.sweep.unit._execution_batch).
    spec = _spec(chips=2, protections=("none", "parity:8"))
    rows = {}
    for threads in (1, 3):
        rows[threads] = []
        run_chips(spec, MODEL, [0, 1], [{}, {}], rows[threads].append, batch_threads=threads)
    assert sorted(rows[1], key=_key) == sorted(rows[3], key=_key)
    assert any(r["faulty_cells"] for r in rows[1])


def test_a_model_done_drops_its_clean_pass_and_rows_stay():
    from accelsim.sweep.executors import LocalExecutor
    from accelsim.sweep.unit import load_unit_inputs

    spec = _spec(models=(MODEL, "digits-cnn-clipping-8b"), chips=2, voltages_v=(0.6, 0.56))
    rows = []
    LocalExecutor().map_units(spec, [(m, c, {}) for m in spec.models for c in range(2)], rows.append)
    qm = load_unit_inputs(spec, MODEL)[1]
    assert qm._clean_run is None and not qm._memories
    again = []
    run_chips(spec, MODEL, [0, 1], [{}, {}], again.append)  # rebuilt on demand, the same rows
    assert sorted(again, key=_key) == sorted((r for r in rows if r["model"] == MODEL), key=_key)


def test_integer_execution_gives_the_rows_of_float_activation_quantization():
    from accelsim.sweep.unit import load_unit_inputs

    rows = {}
    for execution in ("float", "integer"):
        spec = _spec(chips=2, act_bits=8, execution=execution, protections=("none", "parity:8"))
        rows[execution] = []
        run_chips(spec, MODEL, [0, 1], [{}, {}], rows[execution].append)
    qm = load_unit_inputs(spec, MODEL)[1]
    assert qm.act_quant is not None
    # Every layer of this model runs in integers, exactly; the float path rounds its float32 products,
    # which here changes one image of one protected point (parity: detected words read as zero).
    assert {layer.execution for layer in qm.integer_layers()} == {"integer"}
    accuracy_columns = ("accuracy", "error", "robust_error", "metric_value")
    differing = 0
    for exact, rounded in zip(sorted(rows["integer"], key=_key), sorted(rows["float"], key=_key), strict=True):
        assert {k: v for k, v in exact.items() if k not in accuracy_columns} == \
            {k: v for k, v in rounded.items() if k not in accuracy_columns}
        assert abs(exact["accuracy"] - rounded["accuracy"]) <= 1 / exact["n_images"]
        differing += exact != rounded
        if exact["protection"] == "none":
            assert exact == rounded
    assert differing <= 1
    plain = []
    run_chips(_spec(chips=2, protections=("none", "parity:8")), MODEL, [0, 1], [{}, {}], plain.append)
    assert [r["accuracy"] for r in sorted(plain, key=_key)] != [r["accuracy"] for r in sorted(rows["float"], key=_key)]
