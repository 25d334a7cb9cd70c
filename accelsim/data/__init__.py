"""Datasets: scikit-learn's embedded digits, MNIST, Fashion-MNIST and CIFAR-10 from their standard files.

Nothing is ever downloaded or cached: ``mnist:DIR``, ``fashion-mnist:DIR`` and
``cifar10:DIR`` read the files a user already has (``$ACCELSIM_DATA`` gives
their common parent folder); :func:`register` adds a dataset of your own.
"""

from accelsim.data._spec import DatasetError, DatasetInfo
from accelsim.data.loading import (
    DATA_ENV,
    DATASET_NAMES,
    data_folder,
    dataset_info,
    dataset_name,
    dataset_names,
    load_dataset,
    register,
)

__all__ = ["load_dataset", "dataset_info", "DatasetInfo", "DatasetError", "DATASET_NAMES", "DATA_ENV",
           "dataset_names", "dataset_name", "data_folder", "register"]
