"""Robust training: quantization-aware, weight clipping, RandBET, SAQ, fault-aware, sparse.

``train(TrainConfig(...), out="model.pt")`` trains a reference architecture on
its quantized weights and writes a checkpoint that
:func:`accelsim.load_model` turns into a :class:`~accelsim.QuantizedModel`.
"""

from accelsim.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from accelsim.train.config import TrainConfig, TrainError
from accelsim.train.faults import FaultSpec, TrainingFaults, parse_fault_model
from accelsim.train.loop import (
    TrainProgress,
    TrainResult,
    default_name,
    resume_path,
    train,
)
from accelsim.train.sharpness import Sharpness, measure_sharpness

__all__ = [
    "TrainConfig",
    "TrainError",
    "train",
    "TrainProgress",
    "TrainResult",
    "resume_path",
    "default_name",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointError",
    "FaultSpec",
    "parse_fault_model",
    "TrainingFaults",
    "Sharpness",
    "measure_sharpness",
]
