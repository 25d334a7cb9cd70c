"""The model zoo: trained checkpoints shipped with the package, loaded as quantized models.

Each ``accelsim/models/zoo/<name>.pt`` is a checkpoint written by
``accelsim train`` (format: :mod:`accelsim.models.checkpoint`); ``zoo/README.md``
gives the command that made each one. Names read
``<dataset>-<arch>-<method>-<bits>b``, with the clipping bound after the
method when a dataset has models of several bounds; a model stored in a
number format (``int8`` per-channel, ``int4-g128``, ...) ends in the format's
name instead of ``<bits>b`` (``fashion-mnist-vit-randbet-int4-g128``).

A classifier's clean metric is its accuracy; a language model's (dataset
``text``) is its test perplexity, and its ``clean_accuracy`` is None.
"""

import difflib
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch

from accelsim._errors import UserInputError
from accelsim.engine import QuantizedModel
from accelsim.models.checkpoint import CheckpointError, load_checkpoint
from accelsim.models.registry import arch_spec
from accelsim.quant import QuantScheme, get_scheme
from accelsim.quant.formats import NumberFormat, is_format_name, resolve_scheme

__all__ = ["ZooError", "ZooRecord", "zoo", "model_path", "load_model", "ZOO_DIR"]

ZOO_DIR = Path(__file__).resolve().parent / "zoo"
_EXAMPLE_INPUTS = 8


class ZooError(UserInputError):
    """A model name that is neither in the zoo nor a checkpoint file."""


@dataclass(frozen=True)
class ZooRecord:
    """One shipped model.

    Attributes
    ----------
    name : str
    dataset : str
        ``digits``, ``mnist``, ``fashion-mnist``, ``cifar10`` or ``text``.
    arch : str
        Architecture name of :func:`accelsim.models.build`.
    method : str
        ``normal``, ``clipping``, ``randbet`` or ``saq``.
    clip : float or None
        Weight clipping bound.
    p_train : float or None
        RandBET's training bit error rate.
    bits : int
    quant_scheme : str
        Quantization preset (``rquant``, ...) or number format (``int8``,
        ``int4-g128``, ...) the model is stored in.
    clean_accuracy : float or None
        Accuracy of the quantized model on the test split (None for a
        language model).
    path : Path
        The checkpoint file.
    metric : str
        ``accuracy`` for a classifier, ``perplexity`` for a language model.
    clean_metric : float
        That metric of the quantized model on the test split.
    """

    name: str
    dataset: str
    arch: str
    method: str
    clip: float | None
    p_train: float | None
    bits: int
    quant_scheme: str
    clean_accuracy: float | None
    path: Path
    metric: str
    clean_metric: float

    def to_dict(self):
        """Plain dict of the fields (``path`` as a string)."""
        return {**asdict(self), "path": str(self.path)}


def zoo():
    """The shipped models, sorted by name.

    Returns
    -------
    list of ZooRecord

    Examples
    --------
    >>> "digits-cnn-randbet-8b" in [record.name for record in zoo()]
    True
    """
    files = sorted(ZOO_DIR.glob("*.pt"))
    return [_record(path, path.stat().st_mtime_ns) for path in files]


@lru_cache(maxsize=64)
def _record(path, mtime_ns):

    del mtime_ns  # part of the cache key only: a rewritten file is read again
    _, meta = load_checkpoint(path)
    metric = meta.get("metric", "accuracy")
    clean = meta["clean_perplexity"] if metric == "perplexity" else meta["clean_accuracy"]
    return ZooRecord(name=path.stem, dataset=meta["dataset"], arch=meta["arch"], method=meta["method"],
                     clip=meta["clip"], p_train=meta["p_train"], bits=meta["bits"],
                     quant_scheme=meta["quant_scheme"], clean_accuracy=meta["clean_accuracy"], path=path,
                     metric=metric, clean_metric=clean)


def model_path(name_or_path: str | os.PathLike) -> Path:
    """The checkpoint file of a zoo name, or ``name_or_path`` itself when it is a file.

    Raises
    ------
    ZooError
        Neither a zoo name nor an existing file; the message lists the zoo.
    """
    shipped = ZOO_DIR / f"{name_or_path}.pt"
    if isinstance(name_or_path, str) and "/" not in name_or_path and shipped.is_file():
        return shipped
    path = Path(name_or_path)
    if path.is_file():
        return path
    names = [p.stem for p in sorted(ZOO_DIR.glob("*.pt"))]
    close = difflib.get_close_matches(str(name_or_path), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ZooError(f"model {str(name_or_path)!r} is neither a zoo name nor a checkpoint file{hint}; "
                   f"zoo names: {', '.join(names) or '(none shipped)'}")


def load_model(name_or_path: str | os.PathLike, bits: int | None = None,
               scheme: str | QuantScheme | None = None) -> "QuantizedModel":
    """The :class:`~accelsim.engine.QuantizedModel` of a zoo name or checkpoint.

    Parameters
    ----------
    name_or_path : str or Path
        A name of :func:`zoo` or the path of a checkpoint.
    bits : int, optional
        Re-quantize at this precision (default: the trained one).
    scheme : str or accelsim.quant.QuantScheme, optional
        Re-quantize with this scheme (default: the trained preset).

    Returns
    -------
    QuantizedModel
        Its ``meta`` is the checkpoint meta with ``name``, and ``bits`` and
        ``quant_scheme`` as quantized now (``trained_bits`` and
        ``trained_quant_scheme`` keep the checkpoint's). Workloads are
        measured on a few test examples for digits, and on inputs at the
        dataset mean (zeros) otherwise.

    Raises
    ------
    ZooError, CheckpointError, ModelImportError
    """
    path = model_path(name_or_path)
    state_dict, meta = load_checkpoint(path)
    spec = arch_spec(meta["arch"])
    module = spec.build()
    try:
        module.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not fit architecture {meta['arch']!r}: {exc}") from None
    if scheme is None:
        scheme = (NumberFormat.from_dict(meta["scheme"]) if "format" in meta["scheme"]
                  else QuantScheme.from_dict(meta["scheme"]))
    resolved: QuantScheme | NumberFormat
    if isinstance(scheme, NumberFormat) or (isinstance(scheme, str) and is_format_name(scheme)):
        resolved = resolve_scheme(scheme, bits)  # a number format fixes its own width
    else:
        resolved = get_scheme(scheme, meta["bits"] if bits is None else bits)
    meta = {**meta, "name": path.stem, "path": str(path), "bits": resolved.bits, "quant_scheme": resolved.name,
            "trained_bits": meta["bits"], "trained_quant_scheme": meta["quant_scheme"]}
    return QuantizedModel.from_torch(module, resolved, _example_input(spec), meta=meta)


def _example_input(spec):
    if spec.dataset == "digits":
        from accelsim.data import load_dataset

        return load_dataset("digits", "test", limit=_EXAMPLE_INPUTS)[0]
    if spec.dataset == "text":  # token windows
        return torch.zeros((_EXAMPLE_INPUTS, *spec.input_shape), dtype=torch.int64)
    return torch.zeros((_EXAMPLE_INPUTS, *spec.input_shape))
