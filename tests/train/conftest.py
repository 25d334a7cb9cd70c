"""Tiny training runs shared by the train tests: digits, a 64-64-32-10 MLP, seconds each."""

import pytest
import torch

from accelsim.train import TrainConfig


def tiny_config(**overrides):
    """A config that trains in about a second."""
    options = dict(dataset="digits", arch="digits-mlp", epochs=2, batch_size=64, train_limit=256, seed=3)
    options.update(overrides)
    return TrainConfig(**options)


@pytest.fixture
def tiny():
    return tiny_config


@pytest.fixture(autouse=True)
def one_thread():
    """Train on one torch thread: tiny models gain nothing from more, and a shared machine loses much."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
