"""A sweep's models and data, whatever form the user gives them in.

Models: a zoo name, a checkpoint path (any registered architecture), a
``module:attr@checkpoint`` string (an importable class or factory, weights
from an accelsim checkpoint or a plain ``state_dict`` file), a
``torch.nn.Module`` (quantized with the spec's ``scheme`` and ``bits``) or a
:class:`~accelsim.engine.QuantizedModel`. Data: a dataset spec string, an
``(x, y)`` pair of tensors, a torch ``Dataset`` or ``DataLoader``.

In-memory objects never reach a file: ``sweep.json`` records a description
and a sha256 fingerprint of their weights or tensors. A resumed sweep
accepts them when the same objects are passed again (same fingerprints), and
Dask workers receive them through Dask's own serialisation. Nothing is ever
unpickled from disk.
"""

import hashlib
import importlib
import re
from functools import lru_cache
from pathlib import Path

import torch

from accelsim.sweep.spec import SweepError

__all__ = ["TensorData", "as_dataset", "as_model", "is_single_model", "base_label", "model_record", "model_fingerprint",
           "own_dataset", "build_model", "check_fit", "ENTRY_PATTERN"]

ENTRY_PATTERN = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_][\w.]*)(?:@(?P<ckpt>.+))?$")
_EXAMPLE_INPUTS = 8
_DEFAULT_BITS = 8


def _sha256_tensors(*named):
    digest = hashlib.sha256()
    for name, tensor in named:
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return digest.hexdigest()


class TensorData:
    """An in-memory test set: float examples ``x`` (N x C x H x W) and int64 labels ``y``.

    Equality and hash follow the content's fingerprint.
    """

    def __init__(self, x, y, name):
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise SweepError(f"dataset = ({type(x).__name__}, {type(y).__name__}): expected an (x, y) pair "
                             "of torch tensors")
        if x.ndim < 2 or y.ndim != 1 or len(x) != len(y) or len(y) == 0:
            raise SweepError(f"dataset = tensors of shapes {tuple(x.shape)} and {tuple(y.shape)}: expected "
                             "x of shape N x ... and y of shape N (N >= 1)")
        if y.dtype.is_floating_point or y.dtype == torch.bool:
            raise SweepError(f"dataset labels are {y.dtype}; expected integer class labels")
        self.x = x.detach().float().contiguous()
        self.y = y.detach().long().contiguous()
        self.name = name
        self.fingerprint = _sha256_tensors(("x", self.x), ("y", self.y))

    def __eq__(self, other):
        return isinstance(other, TensorData) and other.fingerprint == self.fingerprint

    def __hash__(self):
        return hash(self.fingerprint)

    def __repr__(self):
        return f"TensorData({self.name!r}, {len(self.y)} examples, sha256 {self.fingerprint[:12]})"

    def to_dict(self):
        return {"in_memory": self.name, "examples": len(self.y), "input_shape": list(self.x.shape[1:]),
                "sha256": self.fingerprint}


def _collect(batches, name):
    xs, ys = [], []
    for item in batches:
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise SweepError(f"dataset {name}: an item is a {type(item).__name__}; expected (x, y) pairs")
        x, y = item[0], item[1]
        xs.append(torch.as_tensor(x))
        ys.append(torch.as_tensor(y))
    if not xs:
        raise SweepError(f"dataset {name} is empty")
    return torch.cat(xs), torch.cat(ys)


def as_dataset(value):
    """A spec string, None, or :class:`TensorData` from tensors, a ``Dataset`` or a ``DataLoader``."""
    if value is None or isinstance(value, (str, TensorData)):
        return value
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, torch.Tensor) for v in value):
        return TensorData(value[0], value[1], "tensors")
    from torch.utils.data import DataLoader, Dataset

    if isinstance(value, DataLoader):
        return TensorData(*_collect(value, type(value.dataset).__name__), type(value.dataset).__name__)
    if isinstance(value, Dataset):
        name = type(value).__name__
        loader = DataLoader(value, batch_size=1024, shuffle=False)
        return TensorData(*_collect(loader, name), name)
    raise SweepError(f"dataset = {type(value).__name__}: expected a spec string (digits, mnist:DIR, ...), "
                     "an (x, y) pair of tensors, a torch Dataset or a DataLoader")


def as_model(value):
    """A model entry as the spec keeps it: strings, modules and quantized models; paths become strings."""
    from accelsim.engine import QuantizedModel

    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, torch.nn.Module, QuantizedModel)):
        return value
    raise SweepError(f"models: {value!r} ({type(value).__name__}) is not a model; expected a zoo name, a "
                     "checkpoint path, 'module:attr@checkpoint', a torch.nn.Module or a QuantizedModel")


def is_single_model(value):
    """True for one model entry (a string, path, module or quantized model), False for a collection."""
    from accelsim.engine import QuantizedModel

    return isinstance(value, (str, bytes, Path, torch.nn.Module, QuantizedModel)) or not hasattr(value, "__iter__")


def base_label(item):
    """The ``model`` column of an entry before re-quantization suffixes and de-duplication."""
    if isinstance(item, str):
        match = ENTRY_PATTERN.match(item)
        if match:
            return Path(match["ckpt"]).stem if match["ckpt"] else match["attr"].rpartition(".")[2]
        path = Path(item)
        return path.stem if path.suffix == ".pt" else item
    if isinstance(item, torch.nn.Module):
        return type(item).__name__
    return str(item.meta.get("name") or "QuantizedModel")


def model_record(item):
    """What ``sweep.json`` records of an entry: the string itself, or a fingerprinted description."""
    if isinstance(item, str):
        return item
    kind = "nn.Module" if isinstance(item, torch.nn.Module) else "QuantizedModel"
    return {"in_memory": f"{kind} {base_label(item)}", "sha256": model_fingerprint(item)}


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_fingerprint(item):
    """sha256 of a checkpoint file, or of an object's weights (class name included)."""
    if isinstance(item, str):
        match = ENTRY_PATTERN.match(item)
        if match:
            return _file_sha256(match["ckpt"]) if match["ckpt"] else hashlib.sha256(item.encode()).hexdigest()
        from accelsim.models import model_path

        return _file_sha256(model_path(item))
    if isinstance(item, torch.nn.Module):
        return _sha256_tensors(("class", torch.tensor(list(type(item).__qualname__.encode()))),
                               *item.state_dict().items())
    words = torch.from_numpy(item.words.copy())
    return _sha256_tensors(("words", words), *item.reference_module().state_dict().items())


def own_dataset(item):
    """The dataset a model entry was trained on (its checkpoint meta), or None when it does not say."""
    from accelsim.models.checkpoint import load_checkpoint

    if isinstance(item, str):
        match = ENTRY_PATTERN.match(item)
        if match:
            meta = _checkpoint_meta(match["ckpt"]) if match["ckpt"] else None
            return None if meta is None else meta.get("dataset")
        from accelsim.models import model_path

        return load_checkpoint(model_path(item))[1]["dataset"]
    if isinstance(item, torch.nn.Module):
        return None
    return item.meta.get("dataset")


def _checkpoint_meta(path):
    """The meta of an accelsim checkpoint, None for a plain state_dict file."""
    from accelsim.models.checkpoint import load_checkpoint

    payload = _load_weights_file(path)
    if isinstance(payload, dict) and set(payload) == {"state_dict", "meta"}:
        return load_checkpoint(path)[1]
    return None


def _load_weights_file(path):
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"checkpoint {path} does not exist (in 'module:attr@{path}')")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a foreign file
        raise SweepError(f"cannot read checkpoint {path} ({type(exc).__name__}: {exc}); expected a "
                         "state_dict or an accelsim checkpoint saved with torch.save") from None


def _import_entry(text):
    match = ENTRY_PATTERN.match(text)
    try:
        target = importlib.import_module(match["module"])
    except ImportError as exc:
        raise SweepError(f"model {text!r}: cannot import module {match['module']!r} ({exc}); is it installed "
                         "or on PYTHONPATH?") from None
    for part in match["attr"].split("."):
        if not hasattr(target, part):
            raise SweepError(f"model {text!r}: module {match['module']!r} has no attribute {match['attr']!r}")
        target = getattr(target, part)
    if isinstance(target, torch.nn.Module):
        module = target
    elif callable(target):
        try:
            module = target()
        except TypeError as exc:
            raise SweepError(f"model {text!r}: {match['attr']}() cannot be called without arguments ({exc}); "
                             "point at a factory that takes none") from None
    else:
        raise SweepError(f"model {text!r}: {match['attr']} is a {type(target).__name__}; expected an "
                         "nn.Module, its class or a factory")
    if not isinstance(module, torch.nn.Module):
        raise SweepError(f"model {text!r}: {match['attr']}() returned a {type(module).__name__}, not an nn.Module")
    meta = {}
    if match["ckpt"]:
        payload = _load_weights_file(match["ckpt"])
        if isinstance(payload, dict) and set(payload) == {"state_dict", "meta"}:
            meta = _checkpoint_meta(match["ckpt"])
            payload = payload["state_dict"]
        if not isinstance(payload, dict):
            raise SweepError(f"checkpoint {match['ckpt']} holds a {type(payload).__name__}; expected a state_dict")
        try:
            module.load_state_dict(payload)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise SweepError(f"checkpoint {match['ckpt']} does not fit {match['attr']}: {first}") from None
    return module, meta


@lru_cache(maxsize=8)
def _cached_entry(text, stamp, scheme, bits, data):
    module, meta = _import_entry(text)
    meta = {"method": meta.get("method", "unknown"), **meta}
    return _quantize(module, scheme, bits, data, meta)


@lru_cache(maxsize=8)
def _cached_module(fingerprint, module_id, scheme, bits, data, module):
    return _quantize(module, scheme, bits, data, {"method": "unknown"})


def _quantize(module, scheme, bits, data, meta):
    from accelsim.engine import ModelImportError, QuantizedModel
    from accelsim.quant import get_scheme

    try:
        quant = get_scheme(scheme, _DEFAULT_BITS if bits is None else bits)
    except ValueError as exc:
        raise SweepError(f"scheme {scheme!r}: {exc}") from None
    example = data[0][:_EXAMPLE_INPUTS]
    try:
        return QuantizedModel.from_torch(module, quant, example,
                                         meta={**meta, "bits": quant.bits, "quant_scheme": quant.name})
    except ModelImportError as exc:
        raise SweepError(f"model {type(module).__name__} cannot be imported: {exc}") from None


def build_model(item, scheme, bits, data, stamp=None):
    """The :class:`QuantizedModel` of a non-zoo entry (``module:attr``, nn.Module, QuantizedModel).

    ``data`` is the ``(x, y)`` test set (its first examples are the example input).
    """
    if isinstance(item, str):
        return _cached_entry(item, stamp, scheme, bits, _DataKey(data))
    if isinstance(item, torch.nn.Module):
        return _cached_module(model_fingerprint(item), id(item), scheme, bits, _DataKey(data), item)
    if bits is not None and bits != item.bits:
        raise SweepError(f"model {base_label(item)} is a QuantizedModel at {item.bits} bits; bits={bits} cannot "
                         "re-quantize it: pass the nn.Module instead, or drop bits")
    return item


class _DataKey(tuple):
    """An ``(x, y)`` pair hashed by identity, so caches key on the loaded tensors cheaply."""

    def __hash__(self):
        return hash((id(self[0]), id(self[1])))

    def __eq__(self, other):
        return isinstance(other, tuple) and len(other) == 2 and self[0] is other[0] and self[1] is other[1]


def _shape_text(shape):
    return "x".join(str(n) for n in shape)


def check_fit(label, qm, x, y, dataset_label, own=None):
    """Raise :class:`SweepError` (one line) when ``qm`` cannot run on or classify ``(x, y)``.

    The check compares the model's example input with the dataset's example
    shape, then runs two examples and compares the outputs with the labels.
    """
    hint = f"pass --dataset {own} (its own dataset)" if own else "pass the dataset it was trained on"
    example = getattr(qm, "_example_input", None)
    if example is not None and tuple(example.shape[1:]) != tuple(x.shape[1:]):
        raise SweepError(f"model {label} expects inputs of shape {_shape_text(example.shape[1:])} (its example "
                         f"input) but dataset {dataset_label} holds {_shape_text(x.shape[1:])}; {hint}")
    try:
        logits = qm.forward(x[:2])
    except Exception as exc:  # a shape mismatch inside the network
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SweepError(f"model {label} does not run on dataset {dataset_label} "
                         f"(examples {_shape_text(x.shape[1:])}): {first}; {hint}") from None
    if y is None or logits.ndim != 2 and y.ndim > 1:
        return  # a language model: next-token logits, checked by --metric
    classes = int(y.max()) + 1
    if logits.ndim != 2 or logits.shape[1] < classes:
        raise SweepError(f"model {label} gives {logits.shape[-1]} outputs but dataset {dataset_label} has labels "
                         f"up to {classes - 1}; {hint}")
