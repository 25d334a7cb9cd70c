"""Errors of the model layer."""

from accelsim._errors import UserInputError

__all__ = ["ModelNameError", "ArchitectureError"]


class ModelNameError(UserInputError):
    """An architecture name that is not registered; the message lists the valid ones."""


class ArchitectureError(UserInputError):
    """An architecture argument (class count, widths, groups) that cannot build a network."""
