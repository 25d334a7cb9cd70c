"""report.html: self-contained, loads in headless Chromium without errors, figures drawn, tables right."""

import csv
import os
import re

import pytest

from accelsim.cli import main
from tests._chromium import Browser, find_chromium

ARGS = ["--model", "digits-cnn-normal-8b", "--model", "digits-cnn-randbet-4b", "--profile", "14nm",
        "--voltages", "0.8,0.6,0.56,0.53", "--chips", "2", "--limit", "150", "--quiet"]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert main(["sweep", *ARGS, "--out", str(out)]) == 0
    return out


def _chromium():
    path = find_chromium()
    if path is None:
        reason = "chromium not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true" or os.environ.get("ACCELSIM_REQUIRE_DATA") == "1":
            pytest.fail(reason + "; CI requires it")
        pytest.skip(reason)
    return path


def test_every_sweep_writes_a_self_contained_report(sweep_dir):
    text = (sweep_dir / "report.html").read_text()
    assert text.count('<img ') == 4 and text.count('src="data:image/png;base64,') == 4
    # Nothing to fetch: no external source, link or script.
    assert not re.search(r'(src|href)="(?!data:)', text) and "<script" not in text
    assert "digits-cnn-randbet-4b" in text and "Warnings" in text and "fingerprints" in text


def test_report_command_rewrites_it(sweep_dir, capsys):
    (sweep_dir / "report.html").unlink()
    assert main(["report", str(sweep_dir), "--tolerance", "2"]) == 0
    assert "tolerance 2 pp" in (sweep_dir / "report.html").read_text()
    assert main(["report", str(sweep_dir / "missing")]) == 2


def test_report_in_headless_chromium(sweep_dir):
    with Browser(_chromium()) as browser:
        browser.load((sweep_dir / "report.html").as_uri())
        images = browser.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight,"
                                  " i.getBoundingClientRect().width, i.getBoundingClientRect().height])")
        table = browser.evaluate("[...document.querySelectorAll('#operating-points tbody tr')].map(r => "
                                 "[r.dataset.model, r.dataset.vdd, r.dataset.accuracy])")
        assert browser.errors() == []
    assert len(images) == 4
    for complete, width, height, shown_w, shown_h in images:
        assert complete and width > 100 and height > 100 and shown_w > 100 and shown_h > 100
    with open(sweep_dir / "summary.csv", newline="") as f:
        summary = {(r["model"], float(r["vdd_v"])): r for r in csv.DictReader(f)}
    assert [row[0] for row in table] == ["digits-cnn-normal-8b", "digits-cnn-randbet-4b"]
    for model, vdd, accuracy in table:
        assert float(accuracy) == float(summary[(model, float(vdd))]["accuracy"])
