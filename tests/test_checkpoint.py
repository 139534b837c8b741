import json

import pytest
import torch

from dxmi.checkpoint import (
    CheckpointError,
    flatten_state,
    load_checkpoint,
    load_module_state,
    save_checkpoint,
    unflatten_state,
)


def _optimizer_state():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.8, 0.9))
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    return model, opt


def test_flatten_round_trip_keeps_int_keys_and_tensors():
    _, opt = _optimizer_state()
    state = {"opt": opt.state_dict(), "it": 3, "name": "x", "none": None}
    tensors, skeleton = flatten_state(state)
    json.dumps(skeleton)  # the skeleton is plain JSON
    back = unflatten_state(json.loads(json.dumps(skeleton)), tensors)
    assert set(back["opt"]["state"]) == {0, 1}  # int keys survive
    for k, v in opt.state_dict()["state"][0].items():
        torch.testing.assert_close(back["opt"]["state"][0][k], v)
    new_opt = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    new_opt.load_state_dict(back["opt"])  # and torch accepts it
    assert new_opt.param_groups[0]["betas"] == [0.8, 0.9]
    with pytest.raises(TypeError, match="cannot store"):
        flatten_state({"bad": object()})


def test_save_load_and_no_temporary_files_left(tmp_path):
    model, opt = _optimizer_state()
    save_checkpoint(
        tmp_path / "ck", {"model": model.state_dict(), "opt": opt.state_dict()}, {"iteration": 5}
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.json", "ck.safetensors"]
    state, meta = load_checkpoint(tmp_path / "ck")
    assert meta == {"iteration": 5}
    torch.testing.assert_close(state["model"]["weight"], model.weight.detach())


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "none")
    save_checkpoint(tmp_path / "ck", {"w": torch.ones(3)})
    (tmp_path / "ck.json").write_text("{ truncated")
    with pytest.raises(CheckpointError, match="corrupt checkpoint record"):
        load_checkpoint(tmp_path / "ck")
    save_checkpoint(tmp_path / "ck", {"w": torch.ones(3)})
    data = bytearray((tmp_path / "ck.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "ck.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt or does not match"):
        load_checkpoint(tmp_path / "ck")


def test_load_module_state_names_the_mismatch():
    small, big = torch.nn.Linear(2, 3), torch.nn.Linear(2, 4)
    with pytest.raises(CheckpointError, match=r"'weight' has shape \(4, 2\)"):
        load_module_state(small, big.state_dict(), "f.safetensors")
    with pytest.raises(CheckpointError, match="missing key 'bias'"):
        load_module_state(small, {"weight": small.weight}, "f.safetensors")
