"""Reading and writing the ``.npz`` container of a profile file (version 1).

Only the container is checked here (a readable archive, a JSON ``meta``, the
cell arrays with their exact dtypes and lengths); the meaning of every field
is checked by :class:`~accelsim.sram._meta.ProfileMeta` and ``Profile``.
"""

import contextlib
import json
import zipfile
import zlib

import numpy as np

from accelsim.sram._validate import ProfileError
from accelsim.sram.cells import CellTable

__all__ = ["read_profile_file", "read_profile_meta", "write_profile_file", "CELL_ARRAYS"]

# Cell arrays a "cells" file may hold, with their dtypes; p_error is optional.
CELL_ARRAYS = {"cell_index": np.int64, "v_fail_v": np.float64,
               "fault_kind": np.uint8, "p_error": np.float64}
_REQUIRED_CELL_ARRAYS = ("cell_index", "v_fail_v", "fault_kind")
# What a damaged archive can raise while numpy unpacks it.
_ARCHIVE_ERRORS = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error,
                   UnicodeError, OverflowError, MemoryError)


def read_profile_file(file, label):
    """Read a profile archive.

    Parameters
    ----------
    file : path-like or binary file object
        The ``.npz`` file.
    label : str
        How to name the file in messages.

    Returns
    -------
    meta : dict
        The parsed ``meta`` JSON (not yet validated).
    cells : CellTable or None
        The cell arrays, or ``None`` if the file holds none.
    """
    arrays = _read_arrays(file, label)
    if "meta" not in arrays:
        raise ProfileError(f"{label} has no 'meta' entry; expected a profile file (version 1) "
                           "written by Profile.save or `accelsim profile synth|import`")
    meta = _parse_meta(arrays.pop("meta"), label)
    unknown = sorted(set(arrays) - set(CELL_ARRAYS))
    if unknown:
        raise ProfileError(f"{label} holds unknown array(s) {', '.join(unknown)}; expected only "
                           f"meta, {', '.join(CELL_ARRAYS)}")
    return meta, _cell_table(arrays, label) if arrays else None


def read_profile_meta(file, label):
    """Read only the ``meta`` JSON of a profile archive (cheap: cells stay on disk)."""
    with _open_archive(file, label) as archive:
        if "meta" not in archive.files:
            raise ProfileError(f"{label} has no 'meta' entry; expected a profile file (version 1)")
        return _parse_meta(archive["meta"], label)


def write_profile_file(path, meta, cells):
    """Write ``meta`` (a JSON-ready dict) and optionally ``cells`` to ``path`` as ``.npz``."""
    arrays = {"meta": np.array(json.dumps(meta, allow_nan=False))}
    if cells is not None:
        arrays.update(cell_index=cells.cell_index, v_fail_v=cells.v_fail_v,
                      fault_kind=cells.fault_kind)
        if np.any(cells.p_error < 1.0):
            arrays["p_error"] = cells.p_error
    # A file object keeps numpy from appending ".npz" to the caller's path.
    with open(path, "wb") as file:
        np.savez_compressed(file, **arrays)


def _read_arrays(file, label):
    with _open_archive(file, label) as archive:
        return {name: archive[name] for name in archive.files}


@contextlib.contextmanager
def _open_archive(file, label):
    """Open an ``.npz`` archive; any damage found while reading it is a ``ProfileError``."""
    try:
        with contextlib.ExitStack() as stack:
            # An open file of our own: numpy leaks the one it opens when the
            # archive is damaged.
            handle = file if hasattr(file, "read") else stack.enter_context(open(file, "rb"))
            if not hasattr(file, "read"):
                magic = handle.read(6)
                handle.seek(0)
                if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
                    # Said plainly: numpy would call any other file "pickled data".
                    what = "is empty" if not magic else f"starts with {magic[:4]!r}, not as a zip archive"
                    raise ProfileError(f"{label} is not an .npz profile: the file {what}; expected a "
                                       "profile written by accelsim (profile synth or profile import)")
            archive = np.load(handle, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ProfileError(f"{label} is a single .npy array, not a profile; expected "
                                   "an .npz archive holding 'meta'")
            with archive:
                yield archive
    except _ARCHIVE_ERRORS as exc:
        if isinstance(exc, ProfileError):
            raise
        raise ProfileError(f"{label} cannot be read as a profile ({type(exc).__name__}: {exc}); "
                           "expected an intact .npz profile file (is it truncated?)") from None


def _parse_meta(array, label):
    if array.ndim != 0 or array.dtype.kind != "U":
        raise ProfileError(f"{label}: 'meta' is a {array.dtype} array of shape {array.shape}; "
                           "expected a 0-d unicode array holding JSON")
    try:
        meta = json.loads(str(array))
    except (ValueError, RecursionError) as exc:
        raise ProfileError(f"{label}: 'meta' is not valid JSON ({exc}); expected a JSON "
                           "object") from None
    if not isinstance(meta, dict):
        raise ProfileError(f"{label}: 'meta' is a JSON {type(meta).__name__}; expected a JSON "
                           "object")
    return meta


def _cell_table(arrays, label):
    missing = [name for name in _REQUIRED_CELL_ARRAYS if name not in arrays]
    if missing:
        raise ProfileError(f"{label} lacks cell array(s) {', '.join(missing)}; a 'cells' profile "
                           f"holds {', '.join(_REQUIRED_CELL_ARRAYS)} (and optionally p_error)")
    for name, array in arrays.items():
        dtype = np.dtype(CELL_ARRAYS[name])
        if array.dtype != dtype or array.ndim != 1:
            raise ProfileError(f"{label}: array '{name}' is {array.dtype} of shape {array.shape}; "
                               f"expected a 1-D {dtype.name} array")
    n = len(arrays["cell_index"])
    for name, array in arrays.items():
        if len(array) != n:
            raise ProfileError(f"{label}: array '{name}' has {len(array)} entries but "
                               f"cell_index has {n}; expected one entry per listed cell")
    p_error = arrays.get("p_error", np.ones(n, dtype=np.float64))
    return CellTable(arrays["cell_index"], arrays["v_fail_v"], arrays["fault_kind"], p_error)
