"""The journal: finished sweep points, one JSON line each, flushed as they finish.

A sweep killed at any moment (``kill -9`` included) leaves at worst one
partial last line, which :class:`Journal` drops on reopening; every complete
line is a finished point that a resumed sweep does not compute again.
"""

import json
import os

__all__ = ["Journal", "point_key"]

JOURNAL_NAME = "journal.jsonl"


def point_key(model, chip, vdd_v, protection="none", bank_vdd_v=""):
    """Identity of one sweep point (``protection``: one row group per scheme; ``bank_vdd_v``:
    the bank voltages of a ``--bank-voltages`` point, empty for a uniform voltage)."""
    return (str(model), int(chip), float(vdd_v), str(protection), str(bank_vdd_v))


class Journal:
    """Append-only record of finished points in ``directory/journal.jsonl``.

    Parameters
    ----------
    directory : pathlib.Path
    """

    def __init__(self, directory):
        self.path = directory / JOURNAL_NAME
        self._rows = {}
        if self.path.exists():
            self._load()
        self._file = None

    def _load(self):
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            # A partial last line from an interrupted write: drop it before appending.
            with open(self.path, "r+b") as f:
                f.truncate(len(complete))
        for line in complete.decode("utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                self._rows[point_key(row["model"], row["chip"], row["vdd_v"],
                                     row.get("protection", "none"), row.get("bank_vdd_v", ""))] = row

    @property
    def rows(self):
        """Finished rows, by :func:`point_key` (a copy)."""
        return dict(self._rows)

    def __contains__(self, key):
        return key in self._rows

    def __len__(self):
        return len(self._rows)

    def append(self, row):
        """Record one finished point durably (flushed and fsynced)."""
        key = point_key(row["model"], row["chip"], row["vdd_v"], row.get("protection", "none"),
                        row.get("bank_vdd_v", ""))
        if key in self._rows:
            return
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(json.dumps(row, sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._rows[key] = row

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
