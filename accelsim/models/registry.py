"""Reference architectures by name, each tied to its dataset and input shape."""

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from accelsim._plugins import load_plugins
from accelsim.data import DATASET_NAMES, dataset_info, dataset_names
from accelsim.models._errors import ArchitectureError, ModelNameError
from accelsim.models.digits import digits_cnn, digits_mlp
from accelsim.models.lenet import lenet5, lenet5_gn
from accelsim.models.modern import CharTransformerLM, MobileNetV2Small, ResNet18, SmallViT
from accelsim.models.resnet import ResNet20
from accelsim.models.simplenet import (
    cifar_simplenet,
    mnist_simplenet,
    mnist_simplenet_small,
)

__all__ = ["ArchSpec", "ARCHITECTURES", "arch_spec", "build", "names", "register"]


def _check_num_classes(num_classes, where):
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ArchitectureError(f"{where}: num_classes is {num_classes!r}; expected an int >= 2")


@dataclass(frozen=True)
class ArchSpec:
    """A registered architecture.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"lenet"``.
    dataset : str
        Dataset it is built for (``digits``, ``mnist``, ``cifar10`` or a
        registered one, see :func:`accelsim.data.register`).
    input_shape : tuple of int
        ``(channels, height, width)`` of one example.
    num_classes : int
        Default number of outputs.
    factory : callable
        ``factory(num_classes) -> torch.nn.Module``.
    """

    name: str
    dataset: str
    input_shape: tuple
    num_classes: int
    factory: Callable

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ArchitectureError(f"ArchSpec.name is {self.name!r}; expected a non-empty string")
        if self.dataset not in DATASET_NAMES and self.dataset not in dataset_names():
            raise ArchitectureError(f"ArchSpec {self.name}: dataset is {self.dataset!r}; "
                                    f"expected one of {', '.join(dataset_names())}")
        shape = tuple(self.input_shape)
        rank = 1 if self.dataset == "text" else 3  # a language model takes a window of tokens
        if len(shape) != rank or not all(isinstance(n, int) and n > 0 for n in shape):
            raise ArchitectureError(f"ArchSpec {self.name}: input_shape is {self.input_shape!r}; "
                                    "expected (channels, height, width) of positive ints, or "
                                    "(context,) for a text model")
        object.__setattr__(self, "input_shape", shape)
        _check_num_classes(self.num_classes, f"ArchSpec {self.name}")
        if not callable(self.factory):
            raise ArchitectureError(f"ArchSpec {self.name}: factory is {self.factory!r}; expected a callable")

    def build(self, num_classes=None):
        """A freshly initialised network with ``num_classes`` outputs (default: the spec's)."""
        if num_classes is None:
            num_classes = self.num_classes
        _check_num_classes(num_classes, f"architecture {self.name}")
        return self.factory(num_classes)


ARCHITECTURES = {spec.name: spec for spec in (
    ArchSpec("digits-mlp", "digits", (1, 8, 8), 10, digits_mlp),
    ArchSpec("digits-cnn", "digits", (1, 8, 8), 10, digits_cnn),
    ArchSpec("lenet", "mnist", (1, 28, 28), 10, lenet5),
    ArchSpec("lenet-gn", "mnist", (1, 28, 28), 10, lenet5_gn),
    ArchSpec("mnist-simplenet", "mnist", (1, 28, 28), 10, mnist_simplenet),
    ArchSpec("mnist-simplenet-s", "mnist", (1, 28, 28), 10, mnist_simplenet_small),
    ArchSpec("resnet20", "cifar10", (3, 32, 32), 10, ResNet20),
    ArchSpec("cifar-simplenet", "cifar10", (3, 32, 32), 10, cifar_simplenet),
    ArchSpec("mnist-vit", "mnist", (1, 28, 28), 10, lambda n: SmallViT(n, image_size=28, in_channels=1)),
    ArchSpec("cifar-vit", "cifar10", (3, 32, 32), 10, lambda n: SmallViT(n, image_size=32, in_channels=3)),
    ArchSpec("cifar-mobilenetv2", "cifar10", (3, 32, 32), 10, lambda n: MobileNetV2Small(n)),
    ArchSpec("resnet18", "cifar10", (3, 32, 32), 10, lambda n: ResNet18(n)),
    ArchSpec("char-lm", "text", (64,), 256, lambda n: CharTransformerLM(vocab=n)),
)}


def names(dataset=None):
    """Names of the registered architectures, optionally only those for ``dataset``.

    Parameters
    ----------
    dataset : str, optional
        ``digits``, ``mnist`` or ``cifar10``.

    Returns
    -------
    list of str
        In registration order (small to large within a dataset).
    """
    load_plugins()
    if dataset is not None and dataset not in dataset_names():
        raise ArchitectureError(f"dataset is {dataset!r}; expected None or one of {', '.join(dataset_names())}")
    return [name for name, spec in ARCHITECTURES.items() if dataset in (None, spec.dataset)]


def arch_spec(name):
    """The `ArchSpec` registered as ``name``.

    Raises
    ------
    ModelNameError
        If no architecture has that name; the message lists the valid names.
    """
    if name not in ARCHITECTURES:
        load_plugins()
    if name in ARCHITECTURES:
        return ARCHITECTURES[name]
    close = difflib.get_close_matches(str(name), ARCHITECTURES, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ModelNameError(f"unknown architecture {name!r}{hint}; expected one of: {', '.join(ARCHITECTURES)}")


def build(name, num_classes=None):
    """A freshly initialised reference network.

    Weights come from torch's default generator: seed it
    (``torch.manual_seed``) for a reproducible network.

    Parameters
    ----------
    name : str
        One of `names`.
    num_classes : int, optional
        Number of outputs; by default the dataset's.

    Returns
    -------
    torch.nn.Module
        In training mode, as torch builds it.

    Raises
    ------
    ModelNameError
        Unknown ``name``.
    ArchitectureError
        ``num_classes`` not an int >= 2.

    Examples
    --------
    >>> net = build("lenet")
    >>> sum(p.numel() for p in net.parameters())
    61706
    """
    return arch_spec(name).build(num_classes)


def register(name, factory, dataset, *, input_shape=None, num_classes=None, replace=False):
    """Register an architecture of your own by name.

    After ``register("my-net", MyNet, "mnist")``, ``accelsim train --arch my-net``
    trains it, its checkpoints load by path (``accelsim sweep --model my-net.pt``)
    and ``build("my-net")`` makes one. Installed packages register through the
    ``accelsim.plugins`` entry point group (see :mod:`accelsim._plugins`).

    Parameters
    ----------
    name : str
        Registry name; must not be a built-in one.
    factory : callable
        ``factory(num_classes) -> torch.nn.Module`` (a class taking
        ``num_classes`` works), built from torch.fx-traceable layers.
    dataset : str
        The dataset it is built for: a built-in or registered dataset name.
    input_shape : tuple of int, optional
        ``(channels, height, width)``; default: the dataset's (``text``:
        ``(64,)``, a window of byte tokens).
    num_classes : int, optional
        Default number of outputs; default: the dataset's (``text``: 256 byte values).
    replace : bool
        Allow replacing an earlier registration of ``name``.

    Returns
    -------
    ArchSpec
    """
    builtin = {"digits-mlp", "digits-cnn", "lenet", "lenet-gn", "mnist-simplenet", "resnet20",
               "cifar-simplenet"}
    if name in builtin:
        raise ArchitectureError(f"register: {name!r} is a built-in architecture; choose another name")
    if name in ARCHITECTURES and not replace:
        raise ArchitectureError(f"register: architecture {name!r} is already registered; "
                                "pass replace=True to replace it")
    if dataset not in dataset_names():
        raise ArchitectureError(f"register {name!r}: dataset is {dataset!r}; expected one of "
                                f"{', '.join(dataset_names())} (register a dataset first with "
                                "accelsim.data.register)")
    if dataset == "text":  # token windows of CONTEXT bytes, next-token logits over VOCAB (no DatasetInfo)
        from accelsim.data.text import CONTEXT, VOCAB

        default_shape, default_classes = (CONTEXT,), VOCAB
    else:
        info = dataset_info(dataset)
        default_shape, default_classes = info.input_shape, info.num_classes
    spec = ArchSpec(name, dataset, default_shape if input_shape is None else input_shape,
                    default_classes if num_classes is None else num_classes, factory)
    ARCHITECTURES[name] = spec
    return spec
