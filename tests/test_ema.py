import torch

from dxmi.ema import make_ema


def test_ema_warms_up_then_uses_the_decay():
    m = torch.nn.Linear(1, 1, bias=False)
    ema = make_ema(m, decay=0.9)
    expected = None
    for n in range(50):
        with torch.no_grad():
            m.weight.fill_(float(n))
        ema.update_parameters(m)
        if expected is None:
            expected = 0.0  # the first update copies
        else:
            d = min(0.9, (1 + n) / (10 + n))
            expected = d * expected + (1 - d) * n
        assert abs(ema.module.weight.item() - expected) < 1e-4
    # after warm-up the average lags the weights by about decay / (1 - decay) updates
    assert 35 < ema.module.weight.item() < 45
