"""Character-level text for language models: a generated corpus, or a UTF-8 file.

``text`` is a corpus generated here from a small grammar (deterministic, part
of accelsim and under its license, nothing shipped or downloaded); ``text:FILE``
reads a UTF-8 text file. Tokens are the bytes of the UTF-8 encoding (a
vocabulary of 256, so any text fits one model); examples are non-overlapping
windows of :data:`CONTEXT` tokens, the last tenth of the text being the test
split. A language model predicts each next token from the window itself, so
these datasets have **no labels**: ``load_text`` returns ``y = None`` and
asking for ``accuracy`` on them is an error (use ``loss`` or ``perplexity``).
"""

from pathlib import Path

import numpy as np
import torch

from accelsim.data._spec import DatasetError, check_limit, check_split

__all__ = ["CONTEXT", "VOCAB", "generated_text", "load_text", "text_tokens"]

CONTEXT = 64
VOCAB = 256
_TEST_FRACTION = 0.1
_GENERATED_CHARS = 400_000

_SUBJECTS = ("the cell", "a bit", "the memory", "the chip", "each word", "the model", "a weight",
             "the array", "the voltage", "every layer", "the sense amplifier", "a row")
_VERBS = ("flips", "holds", "reads", "stores", "fails", "drops", "keeps", "loses", "writes", "checks")
_OBJECTS = ("the value", "a one", "a zero", "its charge", "the code", "the scale", "the sign",
            "the exponent", "the result", "its state")
_ENDINGS = ("at low voltage", "when it is cold", "after a read", "before the write", "in the array",
            "near the floor", "without error", "with a fault", "once more", "every cycle")


def generated_text(n_chars=_GENERATED_CHARS, seed=0):
    """A deterministic English-like corpus from a small grammar (``n_chars`` characters).

    Sentences follow ``subject verb object ending.`` with a few numbers, so a
    small model can learn both the words and the structure.
    """
    rng = np.random.default_rng(seed)
    parts, size = [], 0
    while size < n_chars:
        sentence = (f"{_SUBJECTS[rng.integers(len(_SUBJECTS))]} {_VERBS[rng.integers(len(_VERBS))]} "
                    f"{_OBJECTS[rng.integers(len(_OBJECTS))]} {_ENDINGS[rng.integers(len(_ENDINGS))]}")
        if rng.random() < 0.2:
            sentence += f" {int(rng.integers(2, 99))} times"
        sentence = sentence[0].upper() + sentence[1:] + (".\n" if rng.random() < 0.25 else ". ")
        parts.append(sentence)
        size += len(sentence)
    return "".join(parts)[:n_chars]


def text_tokens(path):
    """Byte tokens (uint8) of a UTF-8 text file.

    Raises
    ------
    DatasetError
        Missing file, or a file that is not text (not UTF-8, or holding
        control bytes other than tab, newline and carriage return).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"text file {path} does not exist; write text:FILE with a UTF-8 text file")
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"text file {path} is not text: byte {exc.start} is not UTF-8; "
                           "give a UTF-8 text file") from None
    tokens = np.frombuffer(data, dtype=np.uint8)
    control = (tokens < 32) & ~np.isin(tokens, (9, 10, 13))
    if control.any():
        raise DatasetError(f"text file {path} is not text: byte {int(np.flatnonzero(control)[0])} is a "
                           f"control character ({int(tokens[control][0])}); give a UTF-8 text file")
    if len(tokens) < 20 * (CONTEXT + 1):
        raise DatasetError(f"text file {path} has {len(tokens)} bytes; expected at least "
                           f"{20 * (CONTEXT + 1)} (20 windows of {CONTEXT + 1})")
    return tokens


def load_text(path, split="test", *, limit=None):
    """Windows of byte tokens, ``(x, None)``: ``x`` int64 of shape (N, CONTEXT), no labels.

    Parameters
    ----------
    path : Path or None
        A UTF-8 text file; None for :func:`generated_text`.
    split : {"test", "train"}
        The last tenth of the text is the test split.
    limit : int, optional
        Keep the first ``limit`` windows.
    """
    split, limit = check_split(split), check_limit(limit)
    if path is None:
        tokens = np.frombuffer(generated_text().encode("utf-8"), dtype=np.uint8)
    else:
        tokens = text_tokens(path)
    cut = int(len(tokens) * (1 - _TEST_FRACTION))
    part = tokens[cut:] if split == "test" else tokens[:cut]
    n = len(part) // CONTEXT
    x = torch.from_numpy(part[: n * CONTEXT].astype(np.int64).reshape(n, CONTEXT))
    return (x if limit is None else x[:limit]), None
