"""Text datasets for language models."""

import pytest

from accelsim.data import DatasetError, load_dataset
from accelsim.data.text import CONTEXT, generated_text


def test_generated_text_is_deterministic_english_like():
    assert generated_text(2000) == generated_text(2000)
    assert generated_text(2000).count(". ") > 10


def test_text_windows_have_no_labels():
    x, y = load_dataset("text", limit=5)
    assert y is None and tuple(x.shape) == (5, CONTEXT) and int(x.max()) < 256
    train, _ = load_dataset("text", "train")
    assert len(train) > 8 * len(load_dataset("text")[0])


def test_text_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("héllo wörld\n" * 200, encoding="utf-8")
    x, y = load_dataset(f"text:{path}")
    assert y is None and x.shape[1] == CONTEXT


@pytest.mark.parametrize("content, fragment", [(b"\xff\xfe" + b"a" * 3000, "not UTF-8"),
                                               (b"abc\x00" * 1000, "control character"),
                                               (b"short", "at least")])
def test_a_file_that_is_not_text(tmp_path, content, fragment):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=fragment):
        load_dataset(f"text:{path}")
