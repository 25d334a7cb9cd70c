"""Reference architectures by name, and the model zoo of trained checkpoints built on them."""

from accelsim.models._errors import ArchitectureError, ModelNameError
from accelsim.models.registry import ArchSpec, arch_spec, build, names, register
from accelsim.models.zoo import ZooError, ZooRecord, load_model, model_path, zoo

__all__ = ["build", "names", "register", "arch_spec", "ArchSpec", "ModelNameError", "ArchitectureError",
           "zoo", "ZooRecord", "ZooError", "load_model", "model_path"]
