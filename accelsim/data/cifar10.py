"""CIFAR-10 from the standard python-pickle batches, with only the batches present.

The batches are pickles, and unpickling runs whatever a file asks for; the
loader therefore accepts only the numpy array reconstruction the real batches
use, so a foreign file fails with a `DatasetError` instead of running code.
"""

import pickle
from pathlib import Path

import numpy as np
import torch

from accelsim._limits import MAX_DATASET_BYTES
from accelsim.data._spec import (
    DatasetError,
    DatasetInfo,
    check_limit,
    check_split,
    normalise,
)

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "BATCH_FOLDER", "TRAIN_BATCHES", "TEST_BATCH",
           "cifar10_info", "batch_folder", "read_batch", "load_cifar10"]

# Per-channel statistics of the 50,000 training images (pixels in [0, 1]).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR10_SHAPE = (3, 32, 32)
CIFAR10_CLASSES = 10

BATCH_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
_LAYOUT = f"DIR/{BATCH_FOLDER}/{{data_batch_1 .. data_batch_5, {TEST_BATCH}}} (or DIR being {BATCH_FOLDER})"

_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    # Protocol-2 pickles written by Python 3 store raw bytes through this call.
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and refuses every other global."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(module, name)


def batch_folder(directory):
    """The folder holding the batches: ``directory/cifar-10-batches-py`` or ``directory``.

    Raises
    ------
    DatasetError
        If ``directory`` is not a folder, or holds neither the batch folder
        nor any batch.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"cifar10 folder {directory} does not exist or is not a folder; "
                           f"expected {_LAYOUT}")
    nested = directory / BATCH_FOLDER
    if nested.is_dir():
        return nested
    if any((directory / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH)):
        return directory
    raise DatasetError(f"cifar10 folder {directory} has no {BATCH_FOLDER} folder and no batch file; "
                       f"expected {_LAYOUT}")


def read_batch(path):
    """Images and labels of one batch file.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    images : ndarray of uint8, shape (N, 3, 32, 32)
        Channels R, G, B.
    labels : ndarray of int64, shape (N,)
    """
    try:
        size = Path(path).stat().st_size
        if size > MAX_DATASET_BYTES:
            raise DatasetError(f"{path}: {size} bytes exceed the limit of {MAX_DATASET_BYTES} bytes for one "
                               "CIFAR-10 batch (docs/limits.md); a standard batch is about 31 MB")
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="latin1").load()
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DatasetError(f"{path} is not a CIFAR-10 python batch ({exc}); "
                           "replace it with a file of the standard cifar-10-python.tar.gz") from exc
    data = batch.get("data") if isinstance(batch, dict) else None
    labels = batch.get("labels") if isinstance(batch, dict) else None
    if isinstance(labels, (list, tuple, np.ndarray)):
        try:
            labels = np.asarray(labels)
        except (ValueError, TypeError):
            labels = None
    else:
        labels = None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != np.prod(CIFAR10_SHAPE) or labels is None or labels.ndim != 1 \
            or (labels.size and labels.dtype.kind not in "iu") or len(labels) != len(data):
        raise DatasetError(f"{path} lacks the CIFAR-10 batch content; expected a dict with 'data' "
                           "(N x 3072 uint8) and 'labels' (N ints)")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= CIFAR10_CLASSES):
        raise DatasetError(f"{path} holds labels {labels.min()}..{labels.max()}; "
                           f"expected 0 to {CIFAR10_CLASSES - 1}")
    # Each row stores the R, G and B planes one after the other, each row-major.
    return data.reshape(-1, *CIFAR10_SHAPE), labels


def _split_files(folder, split):
    if split == "test":
        path = folder / TEST_BATCH
        if not path.is_file():
            raise DatasetError(f"cifar10 folder {folder} has no {TEST_BATCH}; expected {_LAYOUT}")
        return [path]
    present = [folder / name for name in TRAIN_BATCHES if (folder / name).is_file()]
    if not present:
        raise DatasetError(f"cifar10 folder {folder} has none of {', '.join(TRAIN_BATCHES)}; "
                           f"the train split needs at least one; expected {_LAYOUT}")
    return present


def load_cifar10(directory, split="test", *, limit=None):
    """CIFAR-10 images and labels from the python batches.

    Parameters
    ----------
    directory : str or path-like
        Folder holding ``cifar-10-batches-py``, or that folder itself.
    split : {"train", "test"}
        ``test_batch``, or every ``data_batch_*`` present, in order.
    limit : int, optional
        Keep only the first ``limit`` examples (later batches are not read).

    Returns
    -------
    x : torch.Tensor
        float32, shape (N, 3, 32, 32), normalised per channel.
    y : torch.Tensor
        int64, shape (N,).
    """
    limit = check_limit(limit)
    paths = _split_files(batch_folder(directory), check_split(split))
    images, labels, n_read = [], [], 0
    for path in paths:
        batch_images, batch_labels = read_batch(path)
        images.append(batch_images)
        labels.append(batch_labels)
        n_read += len(batch_labels)
        if limit is not None and n_read >= limit:
            break
    images = np.concatenate(images)[:limit]
    labels = np.concatenate(labels)[:limit]
    return normalise(images, 255.0, CIFAR10_MEAN, CIFAR10_STD), torch.from_numpy(labels)


def cifar10_info(directory=None):
    """`DatasetInfo` of CIFAR-10 (split sizes unknown: counting means reading the batches)."""
    if directory is not None:
        batch_folder(directory)
    return DatasetInfo(name="cifar10", num_classes=CIFAR10_CLASSES, input_shape=CIFAR10_SHAPE,
                       mean=CIFAR10_MEAN, std=CIFAR10_STD)
