"""Run by test_ddp.py under torchrun: a few DxMI iterations in each of 2 CPU processes.

Each process writes its parameters to <out>/rank<k>.safetensors for the test to compare.
"""

import sys

import torch
from accelerate import Accelerator
from safetensors.torch import save_file

from dxmi.config import load_config
from dxmi.irl.trainer import DxMITrainer
from dxmi.models.factories import build_energy, build_eps_model, build_policy, build_value

out, variant = sys.argv[1], sys.argv[2]
config = load_config(
    None,
    [
        f"dxmi.variant={variant}",
        "dxmi.steps=3",
        "dxmi.batch_size=64",
        "sampler.hidden=32",
        "dxmi.energy.hidden=32",
        "dxmi.sampler_lr=1e-3",
        "dxmi.value_lr=1e-3",
        *(["dxmi.energy_lr=1e-3"] if variant == "separate" else []),
        "dxmi.ema_decay=0.5",
    ],
)
acc = Accelerator(cpu=True)
torch.manual_seed(0)  # identical initial weights on every process
policy = build_policy(config, build_eps_model(config, 2))
trainer = DxMITrainer(
    policy, build_energy(config, 2), build_value(config, 2), config.dxmi, acc, seed=0
)
# each process sees different data: the replicas can only agree through DDP's all-reduce
data = torch.randn(256, 2, generator=torch.Generator().manual_seed(100 + acc.process_index))
for _ in range(5):
    trainer.iteration(data)
state = {f"policy.{k}": v for k, v in trainer.policy_m.state_dict().items()}
state.update({f"energy.{k}": v for k, v in trainer.energy_m.state_dict().items()})
state.update({f"value.{k}": v for k, v in trainer.value_m.state_dict().items()})
state["s2"] = trainer.s2
save_file({k: v.clone() for k, v in state.items()}, f"{out}/rank{acc.process_index}.safetensors")
print(f"rank {acc.process_index} of {acc.num_processes}: {acc.distributed_type}")
# leave together and tear gloo down before the interpreter does: a rank exiting while the
# other still holds the group aborted with "terminate called without an active exception"
acc.wait_for_everyone()
acc.end_training()
