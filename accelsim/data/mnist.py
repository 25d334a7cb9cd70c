"""MNIST from the four standard IDX files in a folder, gzipped or not."""

from pathlib import Path

import numpy as np
import torch

from accelsim.data._spec import (
    DatasetError,
    DatasetInfo,
    check_limit,
    check_split,
    normalise,
)
from accelsim.data.idx import read_idx, read_idx_shape

__all__ = ["MNIST_MEAN", "MNIST_STD", "MNIST_FILES", "mnist_info", "load_mnist", "mnist_file",
           "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "fashion_mnist_info", "load_fashion_mnist"]

MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
MNIST_SHAPE = (1, 28, 28)
MNIST_CLASSES = 10
# Fashion-MNIST (Xiao et al., 2017) keeps MNIST's file names, layout and shapes;
# its pixel statistics over the 60,000 training images differ.
FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)

# (images, labels) per split, without the optional ".gz".
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_LAYOUT = ", ".join(name + "[.gz]" for pair in MNIST_FILES.values() for name in pair)


def _check_folder(directory):
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(f"mnist folder {directory} does not exist or is not a folder; "
                           f"point mnist:DIR at a folder holding {_LAYOUT}")
    return directory


def mnist_file(directory, name):
    """Path of the standard file ``name`` in ``directory``, plain or gzipped.

    The plain file wins when both exist (it reads faster).

    Raises
    ------
    DatasetError
        If neither ``name`` nor ``name.gz`` exists; the message names the
        file and the expected layout.
    """
    directory = _check_folder(directory)
    for candidate in (directory / name, directory / (name + ".gz")):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"mnist folder {directory} has no {name} (nor {name}.gz); "
                       f"expected the four standard IDX files: {_LAYOUT}")


def _check_images(path, images):
    if images.dtype != np.uint8 or images.shape[1:] != MNIST_SHAPE[1:]:
        raise DatasetError(f"{path} holds {images.dtype} {'x'.join(map(str, images.shape))} data; "
                           "expected uint8 N x 28 x 28 images")


def _check_labels(path, labels, n_images):
    if labels.dtype != np.uint8 or labels.ndim != 1 or len(labels) != n_images:
        raise DatasetError(f"{path} holds {labels.dtype} {'x'.join(map(str, labels.shape))} data; "
                           f"expected {n_images} uint8 labels, one per image")
    if labels.size and labels.max() >= MNIST_CLASSES:
        raise DatasetError(f"{path} holds label {labels.max()}; expected labels 0 to {MNIST_CLASSES - 1}")


def load_mnist(directory, split="test", *, limit=None, _stats=(MNIST_MEAN, MNIST_STD)):
    """MNIST images and labels from the standard IDX files.

    Parameters
    ----------
    directory : str or path-like
        Folder holding the split's two files (``t10k-*`` for test,
        ``train-*`` for train), each plain or gzipped.
    split : {"train", "test"}
    limit : int, optional
        Keep only the first ``limit`` examples.

    Returns
    -------
    x : torch.Tensor
        float32, shape (N, 1, 28, 28), ``(pixel / 255 - 0.1307) / 0.3081``.
    y : torch.Tensor
        int64, shape (N,).
    """
    limit = check_limit(limit)
    image_name, label_name = MNIST_FILES[check_split(split)]
    image_path, label_path = mnist_file(directory, image_name), mnist_file(directory, label_name)
    images, labels = read_idx(image_path), read_idx(label_path)
    _check_images(image_path, images)
    _check_labels(label_path, labels, len(images))
    images, labels = images[:limit, None], labels[:limit]
    mean, std = _stats
    return normalise(images, 255.0, mean, std), torch.from_numpy(labels.astype(np.int64))


def _count(directory, split):
    """Number of examples in a split from its image header, None if absent."""
    try:
        path = mnist_file(directory, MNIST_FILES[split][0])
    except DatasetError:
        return None
    return read_idx_shape(path)[1][0]


def mnist_info(directory=None):
    """`DatasetInfo` of MNIST; split sizes read from the headers in ``directory``."""
    if directory is not None:
        _check_folder(directory)
    counts = {split: None if directory is None else _count(directory, split) for split in MNIST_FILES}
    return DatasetInfo(name="mnist", num_classes=MNIST_CLASSES, input_shape=MNIST_SHAPE,
                       mean=MNIST_MEAN, std=MNIST_STD, n_train=counts["train"], n_test=counts["test"])


def load_fashion_mnist(directory, split="test", *, limit=None):
    """Fashion-MNIST from its IDX files (MNIST's names and layout).

    As :func:`load_mnist`, normalised with Fashion-MNIST's own constants
    ``(pixel / 255 - 0.2860) / 0.3530``.
    """
    return load_mnist(directory, split, limit=limit, _stats=(FASHION_MNIST_MEAN, FASHION_MNIST_STD))


def fashion_mnist_info(directory=None):
    """`DatasetInfo` of Fashion-MNIST; split sizes read from the headers in ``directory``."""
    info = mnist_info(directory)
    return DatasetInfo(name="fashion-mnist", num_classes=MNIST_CLASSES, input_shape=MNIST_SHAPE,
                       mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, n_train=info.n_train,
                       n_test=info.n_test)
