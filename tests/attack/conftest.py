"""Fixtures of the attack tests: the digits test images and the zoo's normal digits model."""

import pytest
import torch

from accelsim import load_dataset
from accelsim.models import load_model


@pytest.fixture(scope="module")
def digits():
    torch.set_num_threads(1)
    x, y = load_dataset("digits", split="test")
    return x[:200], y[:200]


@pytest.fixture(scope="module")
def qm():
    return load_model("digits-cnn-normal-8b")


def accuracy_of(result, y):
    """Share of ``y`` that ``result``'s logits classify correctly."""
    return float((result.logits.argmax(1) == y).double().mean())
