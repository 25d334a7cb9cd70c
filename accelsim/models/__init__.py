"""Reference architectures by name (the model zoo's checkpoints build on them)."""

from accelsim.models._errors import ArchitectureError, ModelNameError
from accelsim.models.registry import ArchSpec, arch_spec, build, names

__all__ = ["build", "names", "arch_spec", "ArchSpec", "ModelNameError", "ArchitectureError"]
