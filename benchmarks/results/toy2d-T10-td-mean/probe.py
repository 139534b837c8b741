"""DxMI shared at T = 10 with dxmi.td_update=mean, on the teachers of a toy2d T = 10 run.

    python benchmarks/results/toy2d-T10-td-mean/probe.py DATASET WORK
WORK holds (links to) teacher_DATASET_{0,1,2}.{json,safetensors} from
`benchmarks/toy2d.py --work ...`; records go to WORK/records.jsonl. Run from the repo root.
(The runs recorded here used one copy of this script per dataset with the two names fixed.)
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, "benchmarks")
import toy2d  # noqa: E402

dataset, work = sys.argv[1], Path(sys.argv[2])
args = argparse.Namespace(
    config="configs/8gaussians.yaml",
    set=["dxmi.td_update=mean"],
    set_at=[],
    device="cpu",
    quick=False,
    work=work,
    seeds=[0, 1, 2],
    picture_steps=10,
)
for seed in args.seeds:
    (rec,) = toy2d.dxmi_job(args, dataset, seed, 10, "dxmi-shared")
    rec.pop("samples", None)
    with open(work / "records.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(seed, rec["sliced_w2"], flush=True)
