"""Write benchmarks/results/INDEX.md: every results folder with its title, its status and the
documents that cite it. Run after adding a results folder:

    python benchmarks/index_results.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _title(folder: Path) -> str:
    for name in ("results.md", "README.md", "table.md"):
        path = folder / name
        if path.is_file():
            for line in path.read_text().splitlines():
                text = line.strip("#> *").strip()
                if text and not text.startswith("**Superseded**") and "Superseded" not in text:
                    return text[:140]
    return "(tables in results.json / the per-run files)"


def _status(folder: Path, title: str) -> str:
    text = " ".join(p.read_text()[:600] for p in folder.glob("*.md"))
    if "Superseded" in text or "(superseded)" in text:
        return "superseded"
    if "probe" in folder.name or "a question" in title or "not a benchmark" in title:
        return "probe"
    return "benchmark"


def main() -> None:
    rows = ["| folder | status | cited by | title |", "|---|---|---|---|"]
    for folder in sorted(p for p in RESULTS.iterdir() if p.is_dir()):
        title = _title(folder)
        pattern = re.compile(rf"results/{re.escape(folder.name)}\b")
        cited = [d.relative_to(ROOT).as_posix() for d in DOCS if pattern.search(d.read_text())]
        rows.append(
            f"| [{folder.name}]({folder.name}/) | {_status(folder, title)} | "
            f"{', '.join(cited) or '-'} | {title.replace('|', '/')} |"
        )
    header = (
        "# Results folders\n\nWritten by `python benchmarks/index_results.py`. *benchmark*: a "
        "table a document cites; *probe*: a one-question experiment; *superseded*: kept for "
        "the record, its banner says by what.\n\n"
    )
    (RESULTS / "INDEX.md").write_text(header + "\n".join(rows) + "\n")
    print(f"{len(rows) - 2} folders -> {RESULTS / 'INDEX.md'}")


if __name__ == "__main__":
    main()
