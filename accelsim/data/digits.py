"""scikit-learn's embedded 8 x 8 handwritten digits, with a fixed split.

The 1,797 images ship inside scikit-learn, so this dataset needs no folder and
no download. The split is drawn here with NumPy rather than with
``sklearn.model_selection`` so that it cannot move with a scikit-learn release:
the zoo's digits models were trained on exactly these train indices.

The test split holds 1,000 images (797 remain for training) so that a sweep's
1-point accuracy tolerance is 10 test images, not a fraction of one.
"""

import numpy as np
import torch

from accelsim.data._spec import DatasetInfo, check_limit, check_split, normalise

__all__ = ["DIGITS_MEAN", "DIGITS_STD", "DIGITS_SPLIT_SEED", "DIGITS_N_TEST",
           "DIGITS_INFO", "load_digits", "digits_pixels", "stratified_split"]

DIGITS_SPLIT_SEED = 0
DIGITS_N_TEST = 1000
DIGITS_N_TRAIN = 1797 - DIGITS_N_TEST
DIGITS_MAX_PIXEL = 16.0

# Mean and std of the train split's pixels scaled to [0, 1]; a test recomputes
# them from the split, so a changed split cannot go unnoticed.
DIGITS_MEAN = (0.3061407034190715,)
DIGITS_STD = (0.3760854647982135,)

DIGITS_INFO = DatasetInfo(name="digits", num_classes=10, input_shape=(1, 8, 8),
                          mean=DIGITS_MEAN, std=DIGITS_STD,
                          n_train=DIGITS_N_TRAIN, n_test=DIGITS_N_TEST)


def stratified_split(labels, n_test, seed):
    """Split example indices into train and test with class proportions kept.

    Each class gives ``floor(n_c * n_test / N)`` test examples; the remaining
    test slots go to the classes with the largest fractional parts (ties to
    the lower label). Within a class the examples are drawn by a seeded
    permutation.

    Parameters
    ----------
    labels : ndarray of int, shape (N,)
    n_test : int
        Size of the test split, ``0 < n_test < N``.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    train, test : ndarray of int64
        Disjoint, ascending index arrays covering ``range(N)``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not 0 < n_test < len(labels):
        raise ValueError(f"need 1-D labels and 0 < n_test < {len(labels)}, got n_test={n_test}")
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n_test / len(labels)
    per_class = np.floor(quota).astype(np.int64)
    # Stable sort: among equal fractional parts the lower label wins.
    by_fraction = np.argsort(-(quota - per_class), kind="stable")
    per_class[by_fraction[: n_test - per_class.sum()]] += 1
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:k]
                           for c, k in zip(classes, per_class, strict=True)])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def digits_pixels(split):
    """Raw pixels and labels of one split.

    Parameters
    ----------
    split : {"train", "test"}

    Returns
    -------
    pixels : ndarray of float64, shape (N, 1, 8, 8)
        Values 0 to 16, as scikit-learn ships them.
    labels : ndarray of int64, shape (N,)
    """
    check_split(split)
    images, target = _sklearn_digits()
    train, test = stratified_split(target, DIGITS_N_TEST, DIGITS_SPLIT_SEED)
    index = train if split == "train" else test
    return images[index][:, None], target[index].astype(np.int64)


def _sklearn_digits():
    """scikit-learn's digits as ``(images, target)``, read from its data file when found.

    ``sklearn.datasets`` imports scipy.stats and pandas checks: about 2.5 s and
    40 MB of a default sweep for a 150 kB file. The file is read as
    scikit-learn's own loader reads it (one CSV row per image, label last);
    scikit-learn's loader is the fallback if the file has moved.
    """
    import gzip
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    roots = spec.submodule_search_locations if spec is not None else None
    path = Path(next(iter(roots)), "datasets", "data", "digits.csv.gz") if roots else None
    if path is not None and path.is_file():
        with gzip.open(path, "rt") as handle:
            data = np.loadtxt(handle, delimiter=",")
        return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)
    from sklearn.datasets import load_digits as sklearn_digits  # heavy: import on use

    bunch = sklearn_digits()
    return bunch.images, bunch.target


def load_digits(split="test", *, limit=None):
    """The digits dataset, normalised with the train split's constants.

    Parameters
    ----------
    split : {"train", "test"}
        797 training or 1,000 test examples.
    limit : int, optional
        Keep only the first ``limit`` examples.

    Returns
    -------
    x : torch.Tensor
        float32, shape (N, 1, 8, 8).
    y : torch.Tensor
        int64, shape (N,).
    """
    limit = check_limit(limit)
    pixels, labels = digits_pixels(split)
    pixels, labels = pixels[:limit], labels[:limit]
    return normalise(pixels, DIGITS_MAX_PIXEL, DIGITS_MEAN, DIGITS_STD), torch.from_numpy(labels)
