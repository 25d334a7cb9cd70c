"""Installed plug-ins: entry points of the group ``accelsim.plugins``, loaded once, on first need.

A plug-in package declares, in its packaging metadata::

    [project.entry-points."accelsim.plugins"]
    my_pkg = "my_pkg.accelsim_plugin:register"

and ``register()`` calls :func:`accelsim.models.register` and/or
:func:`accelsim.data.register`. Registries call :func:`load_plugins` before
they answer a name they do not know, so ``accelsim train --arch my-net``
works without any import in user code.
"""

from importlib import metadata

from accelsim._errors import UserInputError

__all__ = ["ENTRY_POINT_GROUP", "PluginError", "load_plugins"]

ENTRY_POINT_GROUP = "accelsim.plugins"
_loaded = set()


class PluginError(UserInputError):
    """An installed plug-in that cannot be loaded; the message names its entry point."""


def load_plugins():
    """Call every not yet loaded ``accelsim.plugins`` entry point (each once per process)."""
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = (entry.name, entry.value)
        if key in _loaded:
            continue
        _loaded.add(key)  # before calling: a plug-in that asks a registry must not recurse
        try:
            hook = entry.load()
            if callable(hook):
                hook()
        except UserInputError:
            raise
        except Exception as exc:  # a broken plug-in: say which one, without a traceback
            raise PluginError(f"accelsim plug-in {entry.name!r} ({entry.value}) failed to load: "
                              f"{type(exc).__name__}: {exc}") from None
