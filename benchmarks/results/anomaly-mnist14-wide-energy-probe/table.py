"""The energy-net probes' tables: their records here (seed*.jsonl: the wide energy (64, 128);
deep-seed*.jsonl: the deeper energy (32, 64, 128), the default since commit 4546394;
deep600-seed*.jsonl: the same with 600 iterations) against the former default's fits and
OneClassSVM on the same splits (../anomaly-mnist14-cpu/partial.jsonl).

    python benchmarks/results/anomaly-mnist14-wide-energy-probe/table.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
FORMER = "default energy (32, 64)"  # the benchmark's fits, ../anomaly-mnist14-cpu
DEEP = "deep energy (32, 64, 128)"
VARIANTS = {
    "wide energy (64, 128)": "seed*.jsonl",
    DEEP: "deep-seed*.jsonl",
    "deep energy, 600 iterations": "deep600-seed*.jsonl",
}


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    probes = {
        name: {(r["seed"], r["normal"]): r["auroc"] for p in HERE.glob(g) for r in records(p)}
        for name, g in VARIANTS.items()
    }
    base = {}
    for r in records(HERE.parent / "anomaly-mnist14-cpu" / "partial.jsonl"):
        if r["method"] in ("dxmi-conv", "ocsvm"):
            base[(r["method"], r["seed"], r["normal"])] = r["auroc"]
    names = [FORMER, *VARIANTS, "OneClassSVM"]
    means = {name: {} for name in names}
    for seed in sorted({s for p in probes.values() for s, _ in p}):
        print(f"\nseed {seed}\n")
        print("| digit | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        cols = {name: [] for name in names}
        for d in range(10):
            row = {
                FORMER: base[("dxmi-conv", seed, d)],
                **{name: p.get((seed, d)) for name, p in probes.items()},
                "OneClassSVM": base[("ocsvm", seed, d)],
            }
            for name, v in row.items():
                if v is not None:
                    cols[name].append(v)
            print(
                f"| {d} | "
                + " | ".join("" if v is None else f"{100 * v:.1f}" for v in row.values())
                + " |"
            )
        cells = []
        for name, v in cols.items():
            if len(v) == 10:  # a mean only over all ten digits
                means[name][seed] = 100 * np.mean(v)
            cells.append(f"**{means[name][seed]:.1f}**" if seed in means[name] else "")
        print("| mean | " + " | ".join(cells) + " |")
    print(
        "\nmean over seeds (mean ± std of the per-seed means; paired: minus (32, 64) / the deep)\n"
    )
    print("| | seeds | mean | paired minus (32, 64), per seed | paired minus the deep energy |")
    print("|---|---|---|---|---|")
    for name, m in means.items():
        seeds = sorted(m)
        if not seeds:
            continue
        v = [m[s] for s in seeds]
        diffs = [
            " / ".join(f"{m[s] - ref[s]:+.1f}" for s in seeds if s in ref)
            for ref in (means[FORMER], means[DEEP])
        ]
        print(
            f"| {name} | {seeds} | {np.mean(v):.1f} ± {np.std(v):.1f} | " + " | ".join(diffs) + " |"
        )


if __name__ == "__main__":
    main()
