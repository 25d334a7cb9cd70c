"""Execution of one quantized network out of simulated weight memory.

The engine imports a torch model (:meth:`QuantizedModel.from_torch`), keeps its
parameters as fixed-point codes, and runs inference with the weights exactly
as a (faulty) memory returns them at one voltage and chip. It knows nothing of
sweeps: one call, one point.
"""

from accelsim.engine.activations import ActivationFaults
from accelsim.engine.evaluate import CleanRun, Evaluator, RunResult
from accelsim.engine.graph import EngineError, ModelImportError
from accelsim.engine.model import QuantizedModel

__all__ = ["QuantizedModel", "ModelImportError", "EngineError", "RunResult", "Evaluator", "CleanRun",
           "ActivationFaults"]
