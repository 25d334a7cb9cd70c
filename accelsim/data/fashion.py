"""Fashion-MNIST: the MNIST file layout (four IDX files) with clothing images and its own normalisation."""

import numpy as np
import torch

from accelsim.data._spec import DatasetInfo, check_limit, check_split, normalise
from accelsim.data.idx import read_idx
from accelsim.data.mnist import MNIST_FILES, _check_folder, _check_images, _check_labels, _count, mnist_file

__all__ = ["FASHION_MEAN", "FASHION_STD", "load_fashion_mnist", "fashion_mnist_info"]

FASHION_MEAN = (0.2860,)
FASHION_STD = (0.3530,)


def load_fashion_mnist(directory, split="test", *, limit=None):
    """Fashion-MNIST images and labels from the standard IDX files (names as MNIST's).

    Returns
    -------
    x : torch.Tensor
        float32, shape (N, 1, 28, 28), ``(pixel / 255 - 0.2860) / 0.3530``.
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
    return normalise(images, 255.0, FASHION_MEAN, FASHION_STD), torch.from_numpy(labels.astype(np.int64))


def fashion_mnist_info(directory=None):
    """`DatasetInfo` of Fashion-MNIST; split sizes read from the headers in ``directory``."""
    if directory is not None:
        _check_folder(directory)
    counts = {split: None if directory is None else _count(directory, split) for split in MNIST_FILES}
    return DatasetInfo(name="fashion-mnist", num_classes=10, input_shape=(1, 28, 28),
                       mean=FASHION_MEAN, std=FASHION_STD, n_train=counts["train"], n_test=counts["test"])
