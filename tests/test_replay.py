"""The replay buffer: a uniform reservoir of past samples, exact through a checkpoint."""

import numpy as np
import pytest
import torch

from dxmi.irl.replay import ReplayBuffer


def test_fills_in_order_then_keeps_a_uniform_sample():
    buf = ReplayBuffer(10)
    g = torch.Generator().manual_seed(0)
    buf.add(torch.arange(6.0)[:, None], g)
    assert len(buf) == 6 and buf.rows[:6, 0].tolist() == list(range(6))
    # after many rows, each row ever offered is kept with probability size / n: 10 buffers
    # of 10 out of 100 rows each keep every decile of the stream about equally often
    counts = np.zeros(10)
    for seed in range(200):
        b, g = ReplayBuffer(10), torch.Generator().manual_seed(seed)
        for start in range(0, 100, 25):
            b.add(torch.arange(start, start + 25.0)[:, None], g)
        assert len(b) == 10 and b.seen == 100
        counts += np.bincount((b.rows[:, 0] // 10).long().numpy(), minlength=10)
    # 2,000 kept rows, 200 expected per decile; a FIFO would keep only the last decile
    assert counts.min() > 150 and counts.max() < 250, counts


def test_sample_and_state_round_trip():
    g = torch.Generator().manual_seed(1)
    buf = ReplayBuffer(8)
    with pytest.raises(ValueError, match="empty"):
        buf.sample(2, g)
    buf.add(torch.randn(5, 3, 2), g)
    drawn = buf.sample(4, g)
    assert drawn.shape == (4, 3, 2)
    assert all(any(torch.equal(d, r) for r in buf.rows[:5]) for d in drawn)
    copy = ReplayBuffer(8)
    copy.load_state_dict(buf.state_dict())
    assert copy.seen == 5 and torch.equal(copy.rows[:5], buf.rows[:5])
    x = torch.randn(7, 3, 2)
    buf.add(x, torch.Generator().manual_seed(2))
    copy.add(x, torch.Generator().manual_seed(2))
    assert torch.equal(copy.rows, buf.rows)
    empty = ReplayBuffer(8)
    empty.load_state_dict(ReplayBuffer(8).state_dict())
    assert len(empty) == 0
    with pytest.raises(ValueError, match="at least 1"):
        ReplayBuffer(0)
