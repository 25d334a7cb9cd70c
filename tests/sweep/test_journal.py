from accelsim.sweep.journal import Journal, point_key


def _row(model="m", chip=0, vdd_v=0.8, accuracy=0.9):
    return {"model": model, "chip": chip, "vdd_v": vdd_v, "accuracy": accuracy}


def test_rows_survive_reopening(tmp_path):
    with Journal(tmp_path) as journal:
        journal.append(_row())
        journal.append(_row(vdd_v=0.7))
    reopened = Journal(tmp_path)
    assert set(reopened.rows) == {point_key("m", 0, 0.8), point_key("m", 0, 0.7)}


def test_partial_last_line_is_dropped_and_appending_continues(tmp_path):
    with Journal(tmp_path) as journal:
        journal.append(_row())
    with open(tmp_path / "journal.jsonl", "a") as f:
        f.write('{"model": "m", "chip": 0, "vdd')  # killed mid-write
    with Journal(tmp_path) as journal:
        assert len(journal) == 1
        journal.append(_row(vdd_v=0.6))
    assert len(Journal(tmp_path)) == 2


def test_duplicate_points_are_written_once(tmp_path):
    with Journal(tmp_path) as journal:
        journal.append(_row())
        journal.append(_row(accuracy=0.1))
    lines = (tmp_path / "journal.jsonl").read_text().splitlines()
    assert len(lines) == 1 and Journal(tmp_path).rows[point_key("m", 0, 0.8)]["accuracy"] == 0.9
