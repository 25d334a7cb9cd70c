"""Checkpoint files: the DESIGN.md format, round trip, and every way a file can be wrong."""

import json

import pytest
import torch

from accelsim.models.checkpoint import META_SCHEMA_VERSION, REQUIRED_META
from accelsim.train import CheckpointError, load_checkpoint, save_checkpoint

META = {"schema_version": META_SCHEMA_VERSION, "name": "m", "arch": "digits-mlp", "dataset": "digits", "bits": 8,
        "quant_scheme": "rquant", "scheme": {}, "method": "normal", "clip": None, "p_train": None,
        "clean_accuracy": 0.5, "sharpness": {"loss": 1.0}}
STATE = {"fc.weight": torch.arange(6.0).reshape(2, 3), "fc.bias": torch.zeros(2)}


def test_round_trip_in_the_documented_format(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", STATE, META)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"state_dict", "meta"} and json.loads(raw["meta"]) == META
    state, meta = load_checkpoint(path)
    assert meta == META
    for key, value in STATE.items():
        torch.testing.assert_close(state[key], value)
    assert not (tmp_path / "m.pt.tmp").exists()


@pytest.mark.parametrize("key", REQUIRED_META)
def test_meta_without_a_required_key_is_refused(tmp_path, key):
    with pytest.raises(CheckpointError, match=key):
        save_checkpoint(tmp_path / "m.pt", STATE, {k: v for k, v in META.items() if k != key})


@pytest.mark.parametrize("payload, message", [
    ({"state_dict": STATE}, "expected a dict with keys meta and state_dict"),
    ([1, 2], "expected a dict"),
    ({"state_dict": STATE, "meta": "{not json"}, "not a JSON string"),
    ({"state_dict": {"w": 1.0}, "meta": json.dumps(META)}, "not a dict of tensors"),
    ({"state_dict": STATE, "meta": json.dumps({**META, "schema_version": 7})}, "schema_version"),
    ({"state_dict": STATE, "meta": json.dumps({**META, "clean_accuracy": "high"})}, "clean_accuracy"),
])
def test_malformed_files_are_refused(tmp_path, payload, message):
    path = tmp_path / "bad.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "text.pt")


def test_unwritable_destination(tmp_path):
    with pytest.raises(CheckpointError, match="cannot write"):
        save_checkpoint(tmp_path / "no-folder" / "m.pt", STATE, META)
