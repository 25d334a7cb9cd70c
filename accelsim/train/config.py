"""What to train: one frozen, self-validating record of every training choice.

The defaults are the published settings of Stutz et al. (MLSys 2021): SGD with
Nesterov momentum 0.9, learning rate 0.05 on a cosine schedule, weight decay
5e-4, batch 128; RandBET clips the perturbed gradient element-wise at 0.05.
"""

import dataclasses
from dataclasses import dataclass

from accelsim._checks import Interval, StrOptions, check
from accelsim._errors import UserInputError

__all__ = ["TrainError", "TrainConfig", "METHODS", "LR_SCHEDULES", "OPTIMIZERS", "CHECKPOINT_DTYPES",
           "SCHEMA_VERSION", "method_label"]

SCHEMA_VERSION = 1
METHODS = ("normal", "randbet", "saq", "advbet")
LR_SCHEDULES = ("cosine", "step")
OPTIMIZERS = ("sgd", "adamw")
CHECKPOINT_DTYPES = ("float32", "float16")


class TrainError(UserInputError):
    """A training option, or a combination of them, that cannot train; the message says the fix."""


@dataclass(frozen=True)
class TrainConfig:
    """Every choice that determines a training run (with the seed, the result is reproducible).

    Parameters
    ----------
    dataset : str
        ``digits``, ``mnist:DIR``, ``fashion-mnist:DIR``, ``cifar10:DIR`` or
        ``text[:FILE]`` (see :func:`accelsim.load_dataset`). On ``text`` (no
        labels) a causal language model trains on next-token cross-entropy
        and is measured by its test perplexity.
    arch : str
        Architecture of :func:`accelsim.models.build`, made for that dataset.
    bits : int or None
        Bits per stored weight code of a fixed-point preset (``None``: 8). A
        number format fixes its own width: ``None`` becomes that width and
        any other value is refused (as :func:`accelsim.load_model` does).
    scheme : str
        Quantization preset (``rquant``, ``normal``, ...) or number format of
        :mod:`accelsim.quant.formats` (``int8``, ``int4-g128``, ``fp16``,
        ``bf16``, ``fp8-e4m3``, ``bfp-16``, ...): training quantizes, and
        RandBET faults, exactly the words the engine stores in that format
        (codes, scales, zero points, shared exponents). AdvBET takes the
        presets and ``int8``/``int4`` (one word per weight) only.
    method : {"normal", "randbet", "saq", "advbet"}
        Plain quantization-aware training, random bit error training,
        sharpness-aware quantization, or adversarial bit error training
        (AdvBET: the gradient on the weights with ``adv_flips`` chosen bit
        flips, optionally mixed with RandBET's random errors when
        ``p_train``/``fault_model`` is given).
    clip : float or None
        Project every parameter onto ``[-clip, clip]`` after each step and at
        the start: weights, biases, embedding tables, position embeddings and
        class tokens alike. Norm scales (BatchNorm, GroupNorm, LayerNorm,
        RMSNorm and RMSNorm-style modules, see
        :func:`accelsim.train.qat.is_norm_layer`) are the exception: trained
        as ``1 + alpha`` with ``alpha`` projected, so each lies in
        ``[1 - clip, 1 + clip]``; norm biases are clipped like any weight.
    p_train : float or None
        RandBET's fault rate per stored bit (cell), in (0, 0.5]; required by
        RandBET with a rate-based fault model, refused otherwise.
    fault_model : str or None
        RandBET's faults: ``flip``, ``sa0``, ``sa1`` at rate ``p_train``, or
        ``profile:NAME@V`` (the faults of a profile at supply ``V`` volts).
        ``None`` means ``flip`` for RandBET; other methods take none.
    fault_chip : int or None
        Train on the faults of this one chip; ``None`` draws a fresh chip per step.
    act_sparsity : float
        Weight ``L`` of the L1 penalty on activations (0: off).
    epochs, batch_size : int
    lr : float
        Initial learning rate.
    lr_schedule : {"cosine", "step"}
        Cosine decay to 0 per step, or a tenfold drop at 50% and 75% of the epochs.
    momentum, weight_decay : float
        Of SGD with Nesterov momentum; AdamW takes ``weight_decay`` (decoupled)
        and its default betas (``momentum`` is not used).
    optimizer : {"sgd", "adamw"}
        SGD with Nesterov momentum (Stutz et al.'s setting, the default) or
        AdamW (transformers train in far fewer steps with it).
    init : str or None
        Start from the weights of this checkpoint (a zoo name or a ``.pt``
        path, of the same architecture) instead of a random initialisation:
        e.g. RandBET fine-tuning of a normally trained model. The seed still
        sets the data order and the faults.
    checkpoint_dtype : {"float32", "float16"}
        Floating-point type of the checkpoint's tensors. ``float16`` halves
        the file (the shipped zoo's large models); the weights are rounded to
        float16 *before* the clean metric is measured, so the recorded metric
        is that of the model as loaded.
    sharpness : bool
        Measure the trained model's sharpness (a loss ascent and a Hessian
        trace on 256 training examples, recorded in the meta). ``False``
        skips it (meta ``sharpness`` is None): on a large model it costs as
        much CPU as several epochs.
    randbet_grad_clip : float
        Element-wise bound of RandBET's (and AdvBET's) perturbed gradients.
    randbet_start_loss : float or None
        RandBET trains normally until the clean cross-entropy loss of a batch
        first falls below this value and injects errors from then on (Stutz
        et al. start injecting once the clean loss is low, so that errors do
        not stall the start of training); ``None`` injects from the first step.
    adv_flips : int or None
        AdvBET's budget: stored bits the attacker flips per step (required by
        AdvBET, refused otherwise).
    adv_steps : int
        AdvBET's inner attack: rounds that spend the budget, each ranking the
        bits by the gradient at the weights flipped so far (1: one step from
        the clean gradient, the default; more is a stronger, slower attacker).
    saq_rho : float
        L2 radius of SAQ's perturbation of the quantized weights.
    seed : int
        Seeds the initialisation, the data order and the fault draws.
    train_limit : int or None
        Train on the first ``train_limit`` examples only (quick runs).
    """

    dataset: str
    arch: str
    bits: int | None = None
    scheme: str = "rquant"
    method: str = "normal"
    clip: float | None = None
    p_train: float | None = None
    fault_model: str | None = None
    fault_chip: int | None = None
    act_sparsity: float = 0.0
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    lr_schedule: str = "cosine"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    randbet_grad_clip: float = 0.05
    randbet_start_loss: float | None = None
    saq_rho: float = 0.1
    seed: int = 0
    train_limit: int | None = None
    adv_flips: int | None = None
    adv_steps: int = 1
    optimizer: str = "sgd"
    init: str | None = None
    checkpoint_dtype: str = "float32"
    sharpness: bool = True

    def __post_init__(self):
        self._check_data_and_model()
        self._check_optimiser()
        self._check_method()

    @property
    def dataset_name(self):
        """The dataset without its folder: ``digits``, ``mnist`` or ``cifar10``."""
        return self.dataset.partition(":")[0]

    @property
    def quant_scheme(self):
        """The resolved :class:`accelsim.quant.QuantScheme` or :class:`accelsim.quant.NumberFormat`."""
        from accelsim.quant import resolve_scheme

        return resolve_scheme(self.scheme, self.bits)

    @property
    def is_format(self):
        """Whether :attr:`scheme` names a number format (not a fixed-point preset)."""
        from accelsim.quant import NumberFormat

        return isinstance(self.quant_scheme, NumberFormat)

    @property
    def method_label(self):
        """The zoo's method: ``clipping`` for normal training with a clip, else ``method``."""
        return method_label(self.method, self.clip)

    def to_dict(self) -> dict:
        """Plain, JSON-serialisable dict with a ``schema_version``."""
        return {"schema_version": SCHEMA_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`; raises :class:`TrainError` on a mismatch."""
        if not isinstance(data, dict):
            raise TrainError(f"training config must be a dict, got {type(data).__name__}")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise TrainError(f"training config schema_version is {data.get('schema_version')!r}; expected "
                             f"{SCHEMA_VERSION} (written by an incompatible accelsim)")
        fields = {f.name for f in dataclasses.fields(cls)}
        given = set(data) - {"schema_version"}
        if not given <= fields or not {"dataset", "arch"} <= given:
            raise TrainError(f"training config keys {sorted(given)}: unknown {sorted(given - fields)}, "
                             f"missing {sorted({'dataset', 'arch'} - given)}")
        return cls(**{name: data[name] for name in given})

    # -- validation -----------------------------------------------------------------
    def _check_data_and_model(self):
        from accelsim.models import arch_spec  # torch-based: only when a config is made
        from accelsim.quant import NumberFormat, get_scheme, resolve_scheme

        if not isinstance(self.dataset, str) or not self.dataset:
            raise TrainError(f"dataset is {self.dataset!r}; expected digits, mnist:DIR, fashion-mnist:DIR, "
                             "cifar10:DIR or text[:FILE]")
        from accelsim.data import DATASET_NAMES, dataset_info

        spec = arch_spec(self.arch)
        # An architecture also trains on another dataset of its input shape and
        # classes (an MNIST network on Fashion-MNIST).
        same_layout = self.dataset_name in DATASET_NAMES and self.dataset_name != "text" and (
            dataset_info(self.dataset_name).input_shape == spec.input_shape
            and dataset_info(self.dataset_name).num_classes == spec.num_classes)
        if spec.dataset != self.dataset_name and not same_layout:
            raise TrainError(f"arch {self.arch!r} is built for {spec.dataset}, not dataset {self.dataset!r}; "
                             f"pick a {self.dataset_name} architecture or --dataset {spec.dataset}")
        if self.bits is not None:
            _check_int("bits", self.bits, 2)
        try:
            resolved = resolve_scheme(self.scheme, self.bits)
            if not isinstance(resolved, NumberFormat):
                resolved = get_scheme(resolved, 8 if self.bits is None else self.bits)
        except UserInputError as exc:
            at = "" if self.bits is None else f" at bits {self.bits!r}"
            raise TrainError(f"scheme {self.scheme!r}{at}: {exc}") from None
        object.__setattr__(self, "bits", resolved.bits)

    def _check_optimiser(self):
        _check_int("epochs", self.epochs, 1)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("seed", self.seed, 0)
        if self.train_limit is not None:
            _check_int("train_limit", self.train_limit, 1)
        if self.fault_chip is not None:
            _check_int("fault_chip", self.fault_chip, 0)
        _check_real("lr", self.lr, low=0.0, open_low=True)
        _check_real("momentum", self.momentum, low=0.0, high=1.0, open_high=True)
        _check_real("weight_decay", self.weight_decay, low=0.0)
        _check_real("act_sparsity", self.act_sparsity, low=0.0)
        _check_real("randbet_grad_clip", self.randbet_grad_clip, low=0.0, open_low=True)
        _check_real("saq_rho", self.saq_rho, low=0.0, open_low=True)
        if self.clip is not None:
            _check_real("clip", self.clip, low=0.0, open_low=True)
        check("lr_schedule", self.lr_schedule, StrOptions(LR_SCHEDULES), error=TrainError)
        check("optimizer", self.optimizer, StrOptions(OPTIMIZERS), error=TrainError)
        if not isinstance(self.sharpness, bool):
            raise TrainError(f"sharpness is {self.sharpness!r}; expected True or False")
        check("checkpoint_dtype", self.checkpoint_dtype, StrOptions(CHECKPOINT_DTYPES), error=TrainError)
        if self.init is not None and (not isinstance(self.init, str) or not self.init):
            raise TrainError(f"init is {self.init!r}; expected a zoo name or the path of a checkpoint")

    def _check_method(self):
        from accelsim.train.faults import parse_fault_model

        check("method", self.method, StrOptions(METHODS), meaning="clipping is --clip W with any method",
              error=TrainError)
        if self.method != "randbet" and self.randbet_start_loss is not None:
            raise TrainError(f"randbet_start_loss = {self.randbet_start_loss!r} only applies to RandBET; "
                             "use method randbet or drop randbet_start_loss")
        if self.method == "advbet":
            fmt = self.quant_scheme
            if self.is_format and fmt.kind != "channel":
                raise TrainError(f"AdvBET ranks bits one word per weight, which scheme {self.scheme!r} does not "
                                 "store (scales, exponents or float words); use int8, int4 or a preset")
            if self.adv_flips is None:
                raise TrainError("AdvBET needs adv_flips, the attacker's budget of flipped bits per step "
                                 "(--adv-flips K, e.g. 10 to 100)")
            _check_int("adv_flips", self.adv_flips, 1)
            _check_int("adv_steps", self.adv_steps, 1)
            if self.p_train is None and self.fault_model is None:
                if self.fault_chip is not None:
                    raise TrainError(f"fault_chip = {self.fault_chip!r} applies to random errors; give "
                                     "--p-train or --fault-model to mix them into AdvBET, or drop it")
                return  # AdvBET alone, no random errors
        elif self.adv_flips is not None:
            raise TrainError(f"adv_flips = {self.adv_flips!r} only applies to AdvBET; use method advbet or "
                             "drop adv_flips")
        elif self.adv_steps != 1:
            raise TrainError(f"adv_steps = {self.adv_steps!r} only applies to AdvBET; use method advbet or "
                             "drop adv_steps")
        if self.method not in ("randbet", "advbet"):
            for name in ("p_train", "fault_model", "fault_chip"):
                if getattr(self, name) is not None:
                    raise TrainError(f"{name} = {getattr(self, name)!r} only applies to RandBET (and AdvBET); "
                                     f"use method randbet or drop {name}")
            return
        if self.fault_model is None:
            object.__setattr__(self, "fault_model", "flip")
        fault = parse_fault_model(self.fault_model)
        if fault.is_rate_based and self.p_train is None:
            raise TrainError(f"RandBET with fault model {self.fault_model!r} needs p_train, the rate per "
                             "bit, e.g. 0.01 to 0.2")
        if not fault.is_rate_based and self.p_train is not None:
            raise TrainError(f"p_train = {self.p_train!r} conflicts with fault model {self.fault_model!r}, "
                             "whose rate the profile and voltage set; drop p_train")
        if self.randbet_start_loss is not None:
            _check_real("randbet_start_loss", self.randbet_start_loss, low=0.0, open_low=True)
        if self.p_train is not None:
            _check_real("p_train", self.p_train, low=0.0, high=0.5, open_low=True)


def method_label(method, clip):
    """The zoo's name for a training method: normal training with a clip is ``clipping``."""
    return "clipping" if method == "normal" and clip is not None else method


def _check_int(name, value, minimum):
    check(name, value, Interval(int, minimum), error=TrainError)


def _check_real(name, value, low=None, high=None, open_low=False, open_high=False):
    closed = {(False, False): "both", (True, False): "right", (False, True): "left", (True, True): "neither"}
    check(name, value, Interval(float, low, high, closed=closed[(open_low, open_high)]), error=TrainError)
