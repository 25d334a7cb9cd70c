"""Units of sweep work: several chips in one pass give the rows of one chip at a time."""

import pytest

from accelsim.sweep import SweepSpec
from accelsim.sweep.unit import run_chips, run_unit

MODEL = "digits-cnn-normal-8b"


def _spec(**changes):
    base = dict(models=(MODEL,), profile="14nm", voltages_v=(0.8, 0.62, 0.58, 0.56, 0.54), chips=4,
                limit=120, batch_size=32, dataset="digits")
    return SweepSpec(**{**base, **changes})


@pytest.mark.parametrize("changes", [{}, {"protections": ("none", "parity:8")}])
def test_chips_in_one_pass_give_the_rows_of_one_chip_at_a_time(changes, monkeypatch):
    from accelsim.engine import multipoint

    calls = []
    original = multipoint.run_points
    monkeypatch.setattr(multipoint, "run_points",
                        lambda evaluators, voltages: calls.append({e.chip for e in evaluators}) or
                        original(evaluators, voltages))
    spec = _spec(**changes)
    chips = [0, 1, 2, 3]
    alone = []
    for chip in chips:
        run_unit(spec, MODEL, chip, {}, alone.append)
    together = []
    run_chips(spec, MODEL, chips, [{}] * len(chips), together.append)
    assert together == alone
    assert calls[-1] == {0, 1, 2, 3}  # one pass over every chip's points
    assert len({r["chip"] for r in together}) == 4 and any(r["faulty_cells"] for r in together)


def test_chips_in_one_pass_skip_the_rows_already_done():
    spec = _spec()
    first = []
    run_unit(spec, MODEL, 1, {}, first.append)
    done = {(r["protection"], r["vdd_v"], r["bank_vdd_v"]): r for r in first[:3]}
    rows = []
    run_chips(spec, MODEL, [0, 1], [{}, done], rows.append)
    assert [r for r in rows if r["chip"] == 1] == first[3:]
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
    original = multipoint.run_points
    monkeypatch.setattr(multipoint, "run_points", lambda e, v: calls.append({x.chip for x in e}) or original(e, v))
    monkeypatch.setattr(sparse, "LARGE_MODEL_WORD_BYTES", 1)  # every model is large: lazy weights
    unit._cached_model.cache_clear()
    try:
        large = []
        run_chips(spec, MODEL, [0, 1, 2], [{}] * 3, large.append)
        assert isinstance(unit.load_unit_inputs(spec, 0)[1].clean_weights, sparse.LazyWeights)
    finally:
        unit._cached_model.cache_clear()  # no lazy model left for other tests
    # No pass shared by chips: one chip's placement in memory at a time (its voltages still share one).
    assert large == alone and calls == [{0}, {1}, {2}]
    assert any(r["faulty_cells"] for r in large)
