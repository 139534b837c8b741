"""Two CPU processes with DDP (gloo) must keep identical replicas while seeing different data."""

import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file


@pytest.mark.parametrize("variant", ["shared", "separate"])
def test_two_process_replicas_stay_identical(tmp_path, variant):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "tests/ddp_worker.py",
        str(tmp_path),
        variant,
    ]
    result = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MULTI_CPU" in result.stdout
    a = load_file(str(tmp_path / "rank0.safetensors"))
    b = load_file(str(tmp_path / "rank1.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    # and training did move the weights (the replicas are not equal merely by being untouched)
    torch.manual_seed(0)
    from dxmi.config import load_config
    from dxmi.models.factories import build_eps_model

    fresh = build_eps_model(load_config(None, ["sampler.hidden=32"]), 2).state_dict()
    assert not torch.equal(fresh["net.0.weight"], a["policy.eps_model.net.0.weight"])
