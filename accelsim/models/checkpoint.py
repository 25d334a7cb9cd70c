"""Checkpoints: one file, ``torch.load(path, weights_only=True)`` gives ``{"state_dict", "meta"}``.

``state_dict`` loads into ``accelsim.models.build(meta["arch"])``; ``meta`` is
a JSON string describing how the model was trained and how well it does
(docs/file-formats.md, "Checkpoint"). Required meta keys are :data:`REQUIRED_META`.
"""

import json
import math
import os
import pickle
from pathlib import Path

import torch

from accelsim._errors import UserInputError

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "REQUIRED_META", "META_SCHEMA_VERSION"]

META_SCHEMA_VERSION = 1
REQUIRED_META = ("schema_version", "name", "arch", "dataset", "bits", "quant_scheme", "scheme", "method",
                 "clip", "p_train", "clean_accuracy")


class CheckpointError(UserInputError):
    """A checkpoint file that cannot be read or lacks what a model needs."""


def save_checkpoint(path, state_dict, meta):
    """Write a checkpoint atomically (a crash never leaves half a file).

    Parameters
    ----------
    path : str or Path
        Destination file (``.pt``); its folder must exist.
    state_dict : dict of str to Tensor
    meta : dict
        JSON-serialisable, with at least :data:`REQUIRED_META`.

    Returns
    -------
    Path
    """
    path = Path(path)
    _check_meta(meta, path)
    payload = {"state_dict": {k: v.detach().cpu().clone() for k, v in state_dict.items()},
               "meta": json.dumps(meta, sort_keys=True, allow_nan=False)}
    if not path.parent.is_dir():
        raise CheckpointError(f"cannot write checkpoint {path}: folder {path.parent} does not exist; create it "
                              "or choose another path")
    partial = path.with_name(path.name + ".tmp")
    try:
        torch.save(payload, partial)
        os.replace(partial, path)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path} ({exc.strerror}); choose a writable path") from None
    return path


def load_checkpoint(path):
    """Read and check a checkpoint.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    state_dict : dict of str to Tensor
    meta : dict

    Raises
    ------
    CheckpointError
        Missing or unreadable file, not a checkpoint, bad meta.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; give a zoo name or the path of a .pt file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        if isinstance(exc, pickle.UnpicklingError) and "weights_only" in str(exc):
            # torch's own advice (weights_only=False) would run the file's code: never pass it on.
            reason = "it holds objects other than tensors and plain data, which accelsim refuses to unpickle"
        else:
            lines = str(exc).strip().splitlines() or [""]
            reason = f"{type(exc).__name__}: {lines[0][:160]}"
        raise CheckpointError(f"cannot read checkpoint {path} ({reason}); "
                              "expected a file written by accelsim train") from None
    if not isinstance(payload, dict) or set(payload) != {"state_dict", "meta"}:
        found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"checkpoint {path} holds {found}; expected a dict with keys meta and state_dict")
    state_dict, meta = payload["state_dict"], payload["meta"]
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(f"checkpoint {path}: state_dict is not a dict of tensors")
    try:
        meta = json.loads(meta)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: meta is not a JSON string ({exc})") from None
    _check_meta(meta, path)
    return state_dict, meta


def _check_meta(meta, path):
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {path}: meta is a {type(meta).__name__}; expected a JSON object")
    missing = [key for key in REQUIRED_META if key not in meta]
    if missing:
        raise CheckpointError(f"checkpoint {path}: meta lacks {', '.join(missing)}; retrain with accelsim train")
    if meta["schema_version"] != META_SCHEMA_VERSION:
        raise CheckpointError(f"checkpoint {path}: meta schema_version is {meta['schema_version']!r}; "
                              f"expected {META_SCHEMA_VERSION} (written by an incompatible accelsim)")
    accuracy = meta["clean_accuracy"]
    if accuracy is not None and not (isinstance(accuracy, float) and math.isfinite(accuracy)):
        raise CheckpointError(f"checkpoint {path}: meta clean_accuracy is {accuracy!r}; expected a number")
