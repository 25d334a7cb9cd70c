"""The journal: finished sweep points, one JSON line each, flushed as they finish.

A sweep killed at any moment (``kill -9`` included) leaves at worst one
partial last line. Reopening tolerates any damaged line (a partial write,
garbage or NUL bytes after a power loss, a row missing a column or holding a
wrong type): it is counted in :attr:`Journal.damaged`, dropped from the file
(rewritten atomically with the good lines only) and its point is computed
again. Every good line is a finished point a resumed sweep does not compute
again.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

from accelsim._safeio import atomic_write, open_no_follow_append

__all__ = ["Journal", "point_key", "JOURNAL_NAME"]

JOURNAL_NAME = "journal.jsonl"


def point_key(model: object, chip: object, vdd_v: object, protection: object = "none",
              bank_vdd_v: object = "") -> tuple[str, int, float, str, str]:
    """Identity of one sweep point (``protection``: one row group per scheme; ``bank_vdd_v``:
    the bank voltages of a ``--bank-voltages`` point, empty for a uniform voltage)."""
    return (str(model), int(chip), float(vdd_v), str(protection), str(bank_vdd_v))  # type: ignore[call-overload,arg-type]


def _valid_row(row: object, columns: Iterable[str]) -> bool:
    """A journal row that a sweep can use as is: a dict with every column, keys of the right type."""
    if not isinstance(row, dict) or not all(c in row for c in columns):
        return False
    model, chip, vdd_v = row.get("model"), row.get("chip"), row.get("vdd_v")
    if not isinstance(model, str) or not model:
        return False
    if not isinstance(chip, int) or isinstance(chip, bool) or chip < 0:
        return False
    if not isinstance(vdd_v, (int, float)) or isinstance(vdd_v, bool) or not math.isfinite(vdd_v) or vdd_v <= 0:
        return False
    if not isinstance(row.get("protection", "none"), str) or not isinstance(row.get("bank_vdd_v", ""), str):
        return False
    for key in ("accuracy", "energy_j"):
        value = row.get(key, 0.0)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
    return True


class Journal:
    """Append-only record of finished points in ``directory/journal.jsonl``.

    Parameters
    ----------
    directory : pathlib.Path
    columns : iterable of str, optional
        Columns every row must have to count (others are damaged and dropped).
    """

    def __init__(self, directory: Path, columns: Iterable[str] = ("model", "chip", "vdd_v")):
        self.path = Path(directory) / JOURNAL_NAME
        self._columns = tuple(columns)
        self._rows: dict[tuple[str, int, float, str, str], dict] = {}
        self.damaged = 0
        if self.path.is_symlink():
            raise OSError(40, "refusing to follow a symlink", str(self.path))  # ELOOP
        if self.path.exists():
            self._load()
        self._fd: int | None = None

    def _load(self) -> None:
        data = self.path.read_bytes()
        good = []
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                row = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                row = None
            if not _valid_row(row, self._columns):
                self.damaged += 1
                continue
            key = point_key(row["model"], row["chip"], row["vdd_v"], row.get("protection", "none"),
                            row.get("bank_vdd_v", ""))
            if key not in self._rows:
                self._rows[key] = row
                good.append(line)
        if self.damaged or not data.endswith(b"\n") and data:
            # Keep only good lines, so appending continues on a clean file and the count is not repeated.
            atomic_write(self.path, b"".join(line + b"\n" for line in good))

    @property
    def rows(self) -> dict[tuple[str, int, float, str, str], dict]:
        """Finished rows, by :func:`point_key` (a copy)."""
        return dict(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def append(self, row: dict) -> None:
        """Record one finished point durably (flushed and fsynced)."""
        key = point_key(row["model"], row["chip"], row["vdd_v"], row.get("protection", "none"),
                        row.get("bank_vdd_v", ""))
        if key in self._rows:
            return
        if self._fd is None:
            self._fd = open_no_follow_append(self.path)
        # Unbuffered: a failed write (disk full) leaves nothing pending that closing could fail on.
        data = memoryview((json.dumps(row, sort_keys=True) + "\n").encode("utf-8"))
        while data:
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)
        self._rows[key] = row

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
