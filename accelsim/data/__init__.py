"""Datasets: scikit-learn's embedded digits, MNIST and CIFAR-10 from their standard files.

Nothing is ever downloaded or cached: ``mnist:DIR`` and ``cifar10:DIR`` read
the files a user already has.
"""

from accelsim.data._spec import DatasetError, DatasetInfo
from accelsim.data.loading import DATASET_NAMES, dataset_info, load_dataset

__all__ = ["load_dataset", "dataset_info", "DatasetInfo", "DatasetError", "DATASET_NAMES"]
