"""Exceptions for input a user can get wrong.

Every error a user can cause (a malformed file, an impossible voltage, a
missing dataset) derives from :class:`UserInputError`, itself a
``ValueError``. The CLI turns exactly these into one line on stderr and exit
code 2; anything else is a bug and keeps its traceback.
"""

__all__ = ["UserInputError"]


class UserInputError(ValueError):
    """Input the user can fix; the message names the problem and the fix."""
