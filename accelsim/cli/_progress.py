"""A tqdm progress bar fed by library progress callbacks (the CLI's only progress display)."""

import sys

from tqdm import tqdm

__all__ = ["ProgressBar"]


class ProgressBar:
    """Callback that opens a bar on the first event and advances it by one per event.

    Parameters
    ----------
    desc, unit : str
        Shown before the bar and after the rate.
    quiet : bool
        Show nothing.
    describe : callable
        ``describe(event) -> (total, done, postfix)``: the bar's length, the
        steps finished including this event, and the text shown after it.

    Use as a context manager so the bar is closed however the work ends.
    """

    def __init__(self, desc, unit, quiet, describe):
        self._desc, self._unit, self._quiet, self._describe = desc, unit, quiet, describe
        self._bar = None

    def __call__(self, event):
        if self._quiet:
            return
        total, done, postfix = self._describe(event)
        if self._bar is None:
            self._bar = tqdm(total=total, initial=done - 1, unit=self._unit, file=sys.stderr,
                             desc=self._desc, dynamic_ncols=True)
        self._bar.set_postfix_str(postfix, refresh=False)
        self._bar.update(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
