"""One entry point for every dataset: ``load_dataset(spec)`` and ``dataset_info(spec)``."""

from accelsim.data._spec import DatasetError, check_limit, check_split, parse_spec
from accelsim.data.cifar10 import cifar10_info, load_cifar10
from accelsim.data.digits import DIGITS_INFO, load_digits
from accelsim.data.mnist import load_mnist, mnist_info
from accelsim.data.text import load_text

__all__ = ["DATASET_NAMES", "load_dataset", "dataset_info"]

DATASET_NAMES = ("digits", "mnist", "cifar10", "text")
_FOLDER_DATASETS = {"mnist": (load_mnist, mnist_info), "cifar10": (load_cifar10, cifar10_info)}


def _parse(spec, folder_required):
    name, directory = parse_spec(spec, DATASET_NAMES)
    if name == "text":
        return name, directory  # text (generated) or text:FILE
    if name == "digits" and directory is not None:
        raise DatasetError(f"dataset spec {spec!r}: digits ships inside scikit-learn and takes no folder; "
                           "write digits")
    if name in _FOLDER_DATASETS and directory is None and folder_required:
        raise DatasetError(f"dataset spec {spec!r} names no folder; write {name}:DIR with the folder "
                           "of the standard files (accelsim never downloads)")
    return name, directory


def load_dataset(spec, split="test", *, limit=None):
    """Examples and labels of a dataset, normalised as the reference models expect.

    Parameters
    ----------
    spec : str
        ``"digits"`` (embedded), ``"mnist:DIR"`` (the four standard IDX
        files, plain or gzipped) or ``"cifar10:DIR"`` (``DIR`` holding
        ``cifar-10-batches-py``, or being it).
    split : {"test", "train"}
    limit : int, optional
        Keep only the first ``limit`` examples, for quick runs.

    Returns
    -------
    x : torch.Tensor
        float32, shape (N, C, H, W).
    y : torch.Tensor
        int64 labels, shape (N,).

    Raises
    ------
    DatasetError
        Unknown spec, missing folder or file, or a corrupt file.

    Examples
    --------
    >>> x, y = load_dataset("digits", limit=4)
    >>> tuple(x.shape), y.dtype
    ((4, 1, 8, 8), torch.int64)
    """
    name, directory = _parse(spec, folder_required=True)
    split, limit = check_split(split), check_limit(limit)
    if name == "digits":
        return load_digits(split, limit=limit)
    if name == "text":  # language modelling: no labels (y is None), see accelsim.data.text
        return load_text(directory, split, limit=limit)
    load, _ = _FOLDER_DATASETS[name]
    return load(directory, split, limit=limit)


def dataset_info(spec):
    """The `DatasetInfo` of a dataset: classes, input shape, normalisation.

    Parameters
    ----------
    spec : str
        As for `load_dataset`; ``mnist`` and ``cifar10`` may omit the folder,
        which leaves the split sizes unknown.

    Returns
    -------
    DatasetInfo
    """
    name, directory = _parse(spec, folder_required=False)
    if name == "digits":
        return DIGITS_INFO
    if name == "text":
        raise DatasetError(f"dataset {spec!r} is text for language models; it has no classes or image shape")
    _, info = _FOLDER_DATASETS[name]
    return info(directory)
