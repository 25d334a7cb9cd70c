"""Shared fixtures: the measured and real data sets in ``../shared/data``."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(*parts):
    """Path to ``../shared/data/<parts>``; skip (or fail under CI) when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = f"shared data not found at {path} (place ../shared/data beside the project)"
        if os.environ.get("ACCELSIM_REQUIRE_DATA") == "1":
            pytest.fail(reason + "; ACCELSIM_REQUIRE_DATA=1 requires it")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def kc705_dir():
    """Folder of the KC705 FPGA block-RAM dumps."""
    return shared_data("fpga-bram-kc705b")


@pytest.fixture(scope="session")
def mnist_dir():
    """Folder of the four MNIST IDX files."""
    return shared_data("mnist")


@pytest.fixture(scope="session")
def cifar10_dir():
    """Folder holding ``cifar-10-batches-py`` (a subset)."""
    return shared_data("cifar-10-subset")


# A profile without an example database: CI's hypothesis step starts fresh each run (with a varied
# --hypothesis-seed), so a failure found once is neither replayed forever from .hypothesis/ nor hidden.
# No per-example deadline: on a shared 2-core machine a first call (an import, a home-directory
# lookup) can take over hypothesis's 200 ms and fail a test by its timing, not its property.
settings.register_profile("accelsim", deadline=None)
settings.register_profile("fresh", database=None, print_blob=True, deadline=None)
settings.load_profile("accelsim")
