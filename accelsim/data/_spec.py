"""Dataset specifications, the record describing a dataset, and normalisation.

A specification is a string ``NAME`` or ``NAME:DIR``: ``digits`` (embedded),
``mnist:DIR`` and ``cifar10:DIR`` (standard files in a folder). Only the
first colon separates the name, so a Windows path such as ``C:\\data`` survives.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from accelsim._errors import UserInputError

__all__ = ["DatasetError", "DatasetInfo", "SPLITS", "parse_spec", "check_split",
           "check_limit", "normalise"]

SPLITS = ("train", "test")
_FOLDER_NAMES = ("mnist", "fashion-mnist", "cifar10")


class DatasetError(UserInputError):
    """A dataset specification, folder or file the user can fix."""


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    Attributes
    ----------
    name : str
        Dataset name (``digits``, ``mnist`` or ``cifar10``).
    num_classes : int
        Number of classes; labels are ``0 .. num_classes - 1``.
    input_shape : tuple of int
        Shape of one example, ``(channels, height, width)``.
    mean, std : tuple of float
        Per-channel constants of the normalisation ``(pixel - mean) / std``,
        with pixels scaled to [0, 1].
    n_train, n_test : int or None
        Number of examples in each split, or None where counting them would
        mean reading the data.
    """

    name: str
    num_classes: int
    input_shape: tuple
    mean: tuple
    std: tuple
    n_train: int | None = None
    n_test: int | None = None

    def __post_init__(self):
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise DatasetError(f"DatasetInfo.num_classes is {self.num_classes!r}; expected an int >= 2")
        shape = tuple(self.input_shape)
        if len(shape) != 3 or not all(isinstance(n, int) and n > 0 for n in shape):
            raise DatasetError(f"DatasetInfo.input_shape is {self.input_shape!r}; "
                               "expected (channels, height, width) of positive ints")
        channels = shape[0]
        for field in ("mean", "std"):
            values = tuple(float(v) for v in getattr(self, field))
            if len(values) != channels or not all(np.isfinite(values)):
                raise DatasetError(f"DatasetInfo.{field} is {getattr(self, field)!r}; "
                                   f"expected {channels} finite values, one per channel")
            object.__setattr__(self, field, values)
        if min(self.std) <= 0:
            raise DatasetError(f"DatasetInfo.std is {self.std!r}; expected positive values")
        for field in ("n_train", "n_test"):
            count = getattr(self, field)
            if count is not None and (not isinstance(count, int) or count < 0):
                raise DatasetError(f"DatasetInfo.{field} is {count!r}; expected None or an int >= 0")
        object.__setattr__(self, "input_shape", shape)


def parse_spec(spec, known_names):
    """Split ``NAME[:DIR]`` into the dataset name and its folder.

    Parameters
    ----------
    spec : str
        The specification, e.g. ``"mnist:/data/mnist"``.
    known_names : sequence of str
        Valid dataset names, listed in the error message.

    Returns
    -------
    name : str
    directory : pathlib.Path or None
        The folder (user home expanded), None when the spec names none.
    """
    expected = ", ".join(f"{n}:DIR" if n in _FOLDER_NAMES else "text[:FILE]" if n == "text" else n
                         for n in known_names)
    if not isinstance(spec, str):
        raise DatasetError(f"dataset spec is {spec!r} ({type(spec).__name__}); expected a string, one of: {expected}")
    name, colon, folder = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in known_names:
        raise DatasetError(f"unknown dataset {spec!r}; expected one of: {expected}")
    if colon and not folder.strip():
        raise DatasetError(f"dataset spec {spec!r} has an empty folder; write {name}:DIR with the folder of the files")
    return name, _expand_home(Path(folder.strip())) if colon else None


def _expand_home(path):
    """``~`` and ``~user`` expanded; a folder naming an unknown user stays as written."""
    try:
        return path.expanduser()
    except RuntimeError:
        return path


def check_split(split):
    """Return ``split`` if it is ``"train"`` or ``"test"``, else raise `DatasetError`."""
    if split not in SPLITS:
        raise DatasetError(f"split is {split!r}; expected one of {', '.join(map(repr, SPLITS))}")
    return split


def check_limit(limit):
    """Return ``limit`` if it is None or a positive int, else raise `DatasetError`."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise DatasetError(f"limit is {limit!r}; expected None (all examples) or a positive int")
    return int(limit)


def normalise(pixels, max_value, mean, std):
    """Scale raw pixels to [0, 1] and standardise each channel.

    Parameters
    ----------
    pixels : ndarray, shape (N, C, H, W)
        Raw pixel values in ``[0, max_value]``, any real dtype.
    max_value : float
        The value of a white pixel (255 for bytes, 16 for digits).
    mean, std : sequence of float, length C
        Constants applied as ``(pixels / max_value - mean) / std``.

    Returns
    -------
    torch.Tensor
        float32, shape (N, C, H, W), contiguous.
    """
    if pixels.ndim != 4 or pixels.shape[1] != len(mean) or len(mean) != len(std):
        raise ValueError(f"pixels of shape {pixels.shape} do not match {len(mean)} channel constants")
    # One fused multiply-add per pixel: x * a + b with a = 1 / (max * std), b = -mean / std.
    std = np.asarray(std, dtype=np.float64)
    scale = (1.0 / (max_value * std)).astype(np.float32)[:, None, None]
    offset = (-np.asarray(mean, dtype=np.float64) / std).astype(np.float32)[:, None, None]
    out = pixels.astype(np.float32)
    out *= scale
    out += offset
    return torch.from_numpy(out)
