"""Shared by the benchmark scripts: where the shared data lives, and a timer."""

import os
import time
from pathlib import Path

# The shared data beside the repository (``../shared/data``); $ACCELSIM_SHARED_DATA overrides it
# (a git worktree sits elsewhere).
SHARED_DATA = Path(os.environ.get("ACCELSIM_SHARED_DATA")
                   or Path(__file__).resolve().parents[2] / "shared" / "data")
MNIST = SHARED_DATA / "mnist"
KC705 = SHARED_DATA / "fpga-bram-kc705b"


def timed(fn):
    """Wall-clock seconds of one call of ``fn``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
