"""Finding profiles by name: ``$ACCELSIM_PROFILES``, ``./profiles``, then the shipped ones.

The shipped profiles live in the ``accelsim/_profiles`` package folder and are
reached through :mod:`importlib.resources`, so an installed (non-editable)
package finds them too.
"""

import contextlib
import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path

from accelsim.sram._npz import read_profile_meta
from accelsim.sram._validate import ProfileError

__all__ = ["ProfileRecord", "list_profiles", "resolve_profile", "PROFILES_ENV"]

PROFILES_ENV = "ACCELSIM_PROFILES"
_SUFFIX = ".npz"


@dataclass(frozen=True)
class ProfileRecord:
    """One profile that a name can reach.

    Attributes
    ----------
    name : str
        The name to pass to ``load_profile`` (the file name without ``.npz``).
    path : str
        Where the file is.
    origin : str
        ``"$ACCELSIM_PROFILES"``, ``"./profiles"`` or ``"shipped"``.
    kind, technology, description : str
        From the file's meta (``kind`` is ``"unreadable"`` and ``description``
        the reason when the meta cannot be read).
    """

    name: str
    path: str
    origin: str
    kind: str
    technology: str
    description: str


def list_profiles():
    """Every profile reachable by name, in lookup order.

    A name found in an earlier folder hides the same name in later ones, so
    each name appears once, with the file ``load_profile(name)`` opens.

    Returns
    -------
    list of ProfileRecord
    """
    records, seen = [], set()
    for origin, folder in _search_folders():
        for entry in sorted(_profile_entries(folder), key=lambda item: item.name):
            name = entry.name[:-len(_SUFFIX)]
            if name in seen:
                continue
            seen.add(name)
            records.append(_record(name, entry, origin))
    return records


@contextlib.contextmanager
def resolve_profile(name_or_path):
    """Yield ``(path, label)`` of a profile given by path or name.

    Raises
    ------
    ProfileError
        If the path does not exist, or no folder holds the name (the message
        lists the names available).
    """
    text = os.fspath(name_or_path)
    if _looks_like_path(name_or_path, text):
        path = Path(text)
        if not path.is_file():
            raise ProfileError(f"profile file {text!r} does not exist; give an existing .npz "
                               "file or a profile name (see `accelsim profile list`)")
        yield path, f"profile file {text!r}"
        return
    for _, folder in _search_folders():
        entry = folder.joinpath(text + _SUFFIX)
        if entry.is_file():
            with importlib.resources.as_file(entry) as path:
                yield path, f"profile '{text}' ({entry})"
            return
    available = ", ".join(record.name for record in list_profiles()) or "none"
    raise ProfileError(f"profile {text!r} is not a file and no profile has that name; "
                       f"available names: {available} (folders: ${PROFILES_ENV}, ./profiles, "
                       "shipped)")


def _looks_like_path(name_or_path, text):
    return (not isinstance(name_or_path, str) or text.endswith(_SUFFIX)
            or os.sep in text or "/" in text or (os.altsep is not None and os.altsep in text))


def _search_folders():
    """``(origin, folder)`` pairs in lookup order; folders are Traversables."""
    folders = [(f"${PROFILES_ENV}", Path(entry))
               for entry in os.environ.get(PROFILES_ENV, "").split(os.pathsep) if entry]
    folders.append(("./profiles", Path.cwd() / "profiles"))
    folders.append(("shipped", importlib.resources.files("accelsim").joinpath("_profiles")))
    return [(origin, folder) for origin, folder in folders if folder.is_dir()]


def _profile_entries(folder):
    return [entry for entry in folder.iterdir()
            if entry.name.endswith(_SUFFIX) and entry.is_file()]


def _record(name, entry, origin):
    try:
        with importlib.resources.as_file(entry) as path:
            meta = read_profile_meta(path, f"profile file {str(entry)!r}")
        kind, technology, description = (str(meta.get(key, "?"))
                                         for key in ("kind", "technology", "description"))
    except ProfileError as exc:
        kind, technology, description = "unreadable", "?", str(exc)
    return ProfileRecord(name, str(entry), origin, kind, technology, description)
