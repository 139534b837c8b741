"""The wide-energy probe's table: its records (seed*.jsonl here) against the benchmark's
default fits and OneClassSVM on the same splits (../anomaly-mnist14-cpu/partial.jsonl).

    python benchmarks/results/anomaly-mnist14-wide-energy-probe/table.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    wide = {
        (r["seed"], r["normal"]): r["auroc"] for p in HERE.glob("seed*.jsonl") for r in records(p)
    }
    base = {}
    for r in records(HERE.parent / "anomaly-mnist14-cpu" / "partial.jsonl"):
        if r["method"] in ("dxmi-conv", "ocsvm"):
            base[(r["method"], r["seed"], r["normal"])] = r["auroc"]
    means = {"default": [], "wide": [], "ocsvm": []}
    for seed in sorted({s for s, _ in wide}):
        digits = sorted(d for s, d in wide if s == seed)
        print(f"\nseed {seed}\n")
        print("| digit | default energy (32, 64) | wide energy (64, 128) | OneClassSVM |")
        print("|---|---|---|---|")
        cols = {"default": [], "wide": [], "ocsvm": []}
        for d in digits:
            row = (base[("dxmi-conv", seed, d)], wide[(seed, d)], base[("ocsvm", seed, d)])
            for key, v in zip(cols, row):
                cols[key].append(v)
            print(f"| {d} | " + " | ".join(f"{100 * v:.1f}" for v in row) + " |")
        print("| mean | " + " | ".join(f"**{100 * np.mean(v):.1f}**" for v in cols.values()) + " |")
        for key, v in cols.items():
            means[key].append(100 * np.mean(v))
    print("\nmean over seeds (mean ± std of the per-seed means; paired: wide - default)\n")
    print("| default energy (32, 64) | wide energy (64, 128) | OneClassSVM | wide - default |")
    print("|---|---|---|---|")
    diff = np.subtract(means["wide"], means["default"])
    cells = [f"{np.mean(v):.1f} ± {np.std(v):.1f}" for v in means.values()]
    print("| " + " | ".join(cells) + f" | {' / '.join(f'{d:+.1f}' for d in diff)} |")


if __name__ == "__main__":
    main()
