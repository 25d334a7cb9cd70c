"""``accelsim zoo``: one line per shipped model under a header."""

from accelsim.cli import main
from accelsim.cli.zoo_cmd import format_table
from accelsim.models import zoo


def test_lists_every_shipped_model(capsys):
    assert main(["zoo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "dataset", "arch", "method", "clip", "p_train", "bits", "quant_scheme",
                                "clean_accuracy", "metric", "clean_metric"]
    records = zoo()
    assert [line.split()[0] for line in lines[1:]] == [r.name for r in records]
    for line, record in zip(lines[1:], records):
        cells = line.split()
        assert cells[3] == record.method and cells[6] == str(record.bits)
        accuracy = "-" if record.clean_accuracy is None else f"{record.clean_accuracy * 100:.2f}%"
        assert cells[8] == accuracy and cells[9] == record.metric
        assert cells[10] == f"{record.clean_metric:.3f}"
        assert cells[4] == ("-" if record.clip is None else f"{record.clip:g}")


def test_empty_zoo_prints_the_header_only():
    assert format_table([]).splitlines() == [format_table([]).strip()]
