"""One entry point for every dataset: ``load_dataset(spec)`` and ``dataset_info(spec)``.

Datasets are the built-in ones (``digits``, ``mnist``, ``fashion-mnist``,
``cifar10``) plus any registered with :func:`register` (directly, or by an
installed plug-in through the ``accelsim.plugins`` entry point group). A
folder dataset named without a folder (``--dataset mnist``) is looked up in
``$ACCELSIM_DATA`` (a folder holding ``mnist/``, ``fashion-mnist/`` and
``cifar-10-batches-py/``).
"""

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from accelsim._plugins import load_plugins
from accelsim.data._spec import DatasetError, DatasetInfo, check_limit, check_split, parse_spec
from accelsim.data.cifar10 import cifar10_info, load_cifar10
from accelsim.data.digits import DIGITS_INFO, load_digits
from accelsim.data.mnist import fashion_mnist_info, load_fashion_mnist, load_mnist, mnist_info
from accelsim.data.text import load_text

__all__ = ["DATASET_NAMES", "DATA_ENV", "load_dataset", "dataset_info", "dataset_names", "register",
           "dataset_name", "data_folder"]

if TYPE_CHECKING:
    import torch

DATASET_NAMES = ("digits", "mnist", "fashion-mnist", "cifar10", "text")
DATA_ENV = "ACCELSIM_DATA"
# Folder dataset -> (loader, info, subfolder of $ACCELSIM_DATA).
_FOLDER_DATASETS = {"mnist": (load_mnist, mnist_info, "mnist"),
                    "fashion-mnist": (load_fashion_mnist, fashion_mnist_info, "fashion-mnist"),
                    "cifar10": (load_cifar10, cifar10_info, "cifar-10-batches-py")}


@dataclass(frozen=True)
class _Registered:
    loader: Callable
    info: DatasetInfo


_REGISTERED: dict[str, _Registered] = {}


def register(name, loader, info, *, replace=False):
    """Make ``load_dataset(name)`` and ``--dataset name`` read a dataset of your own.

    Parameters
    ----------
    name : str
        The dataset's name (lower case, no colon), e.g. ``"my-data"``.
    loader : callable
        ``loader(split, limit) -> (x, y)``: float32 N x C x H x W examples,
        normalised as your models expect, and int64 labels; ``split`` is
        ``"train"`` or ``"test"``, ``limit`` None or the number of examples to keep.
    info : DatasetInfo
        Classes, input shape and normalisation (see :class:`DatasetInfo`).
    replace : bool
        Allow replacing an earlier registration of ``name``.

    Examples
    --------
    >>> import torch
    >>> from accelsim.data import DatasetInfo, register
    >>> info = DatasetInfo("ones", 2, (1, 4, 4), (0.0,), (1.0,))
    >>> register("ones", lambda split, limit: (torch.ones(4, 1, 4, 4), torch.tensor([0, 1, 0, 1])), info,
    ...          replace=True)
    """
    if not isinstance(name, str) or not name or name != name.strip().lower() or ":" in name:
        raise DatasetError(f"register: name is {name!r}; expected a non-empty lower-case string without ':'")
    if name in DATASET_NAMES:
        raise DatasetError(f"register: {name!r} is a built-in dataset; choose another name")
    if name in _REGISTERED and not replace:
        raise DatasetError(f"register: dataset {name!r} is already registered; pass replace=True to replace it")
    if not callable(loader):
        raise DatasetError(f"register: loader of {name!r} is {loader!r}; expected a callable (split, limit)")
    if not isinstance(info, DatasetInfo):
        raise DatasetError(f"register: info of {name!r} is a {type(info).__name__}; expected a DatasetInfo")
    _REGISTERED[name] = _Registered(loader, info)


def dataset_names():
    """Every dataset name: the built-in ones, then the registered ones (plug-ins loaded)."""
    load_plugins()
    return (*DATASET_NAMES, *_REGISTERED)


def dataset_name(spec):
    """The name of a dataset spec without its folder (``mnist:/data/mnist`` -> ``mnist``)."""
    return str(spec).strip().partition(":")[0].strip().lower()


def data_folder(name):
    """The folder of ``name`` in ``$ACCELSIM_DATA``, or None when unset or absent there.

    ``name`` is a folder dataset (``mnist``, ``fashion-mnist``, ``cifar10``,
    whose folder is ``cifar-10-batches-py``) or any other subfolder, such as
    ``fpga-bram-kc705b`` (the KC705 dumps the notebooks import).
    """
    root = os.environ.get(DATA_ENV)
    if not root:
        return None
    folder = Path(root).expanduser() / (_FOLDER_DATASETS[name][2] if name in _FOLDER_DATASETS else name)
    return folder if folder.is_dir() else None


def _parse(spec, folder_required):
    name, directory = parse_spec(spec, dataset_names())
    if name == "text":
        return name, directory  # text (generated) or text:FILE
    if name in DATASET_NAMES and name not in _FOLDER_DATASETS and directory is not None:
        raise DatasetError(f"dataset spec {spec!r}: {name} ships inside scikit-learn and takes no folder; "
                           f"write {name}")
    if name in _REGISTERED and directory is not None:
        raise DatasetError(f"dataset spec {spec!r}: {name} is a registered dataset and takes no folder; "
                           f"write {name}")
    if name in _FOLDER_DATASETS and directory is None:
        directory = data_folder(name)
        if directory is None and folder_required:
            sub = _FOLDER_DATASETS[name][2]
            raise DatasetError(f"dataset spec {spec!r} names no folder; write {name}:DIR with the folder "
                               f"of the standard files, or set ${DATA_ENV} to a folder holding {sub}/ "
                               "(accelsim never downloads)")
    return name, directory


def load_dataset(spec: str, split: str = "test", *,
                 limit: int | None = None) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Examples and labels of a dataset, normalised as the reference models expect.

    Parameters
    ----------
    spec : str
        ``"digits"`` (embedded), ``"mnist:DIR"`` and ``"fashion-mnist:DIR"``
        (the four standard IDX files, plain or gzipped), ``"cifar10:DIR"``
        (``DIR`` holding ``cifar-10-batches-py``, or being it), a folder
        dataset without ``:DIR`` when ``$ACCELSIM_DATA`` holds it, or the
        name of a registered dataset (:func:`register`).
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
    if name in _REGISTERED:
        return _REGISTERED[name].loader(split, limit)
    load = _FOLDER_DATASETS[name][0]
    return load(directory, split, limit=limit)


def dataset_info(spec: str) -> "DatasetInfo":
    """The `DatasetInfo` of a dataset: classes, input shape, normalisation.

    Parameters
    ----------
    spec : str
        As for `load_dataset`; folder datasets may omit the folder, which
        leaves the split sizes unknown (unless ``$ACCELSIM_DATA`` holds them).

    Returns
    -------
    DatasetInfo
    """
    name, directory = _parse(spec, folder_required=False)
    if name == "digits":
        return DIGITS_INFO
    if name == "text":
        raise DatasetError(f"dataset {spec!r} is text for language models; it has no classes or image shape")
    if name in _REGISTERED:
        return _REGISTERED[name].info
    return _FOLDER_DATASETS[name][1](directory)
