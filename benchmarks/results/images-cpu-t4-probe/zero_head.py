"""Probe: the conv energy's linear head starts at zero, so E = 0 everywhere at init.

Why: on the 28x28 GPU net the energy starts at E(data) = -5.8 and Adam's first steps throw it
to +32 and back (benchmarks/results/images-gpu-holdout/results.md). Not a config option: this
patches `ConvEnergy.__init__` and runs the benchmark's own DxMI job on a finished teacher.

    python benchmarks/results/images-cpu-t4-probe/zero_head.py OUT SEED [CONFIG [T [KEY=VALUE ...]]]

OUT/teacher/teacher is the teacher; CONFIG defaults to configs/mnist-cpu.yaml, T to 4.
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/, for images.py

from images import dxmi_job  # noqa: E402

from dxmi.networks import conv_energy  # noqa: E402

_init = conv_energy.ConvEnergy.__init__


def _zero_head_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    torch.nn.init.zeros_(self.head.weight)
    torch.nn.init.zeros_(self.head.bias)


conv_energy.ConvEnergy.__init__ = _zero_head_init

if __name__ == "__main__":
    out, seed, *rest = sys.argv[1:]
    config = rest[0] if rest else "configs/mnist-cpu.yaml"
    steps = int(rest[1]) if len(rest) > 1 else 4
    if not torch.cuda.is_available():
        torch.set_num_threads(1)
    for record in dxmi_job(config, rest[2:], out, steps, int(seed)):
        print(record)
