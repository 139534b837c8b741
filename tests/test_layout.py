"""The layout's rules, checked on the source: imports point down the layers, one loop drives
every trainer, `import dxmi` stays light (README, "Layout")."""

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "dxmi"

# Lowest first; a module may import its own layer and those before it, never a later one.
LAYERS = [
    {"_version", "atomic", "ema", "plots"},
    {"checkpoint"},
    {"data"},
    {"config"},
    {"diffusion"},
    {"networks", "irl"},
    {"metrics"},
    {"models"},
    {"runs"},
    {"detect"},
    {"cli"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts == ("__init__.py",):  # the package face: lazy re-exports of the top layers
            continue
        yield rel, ast.parse(path.read_text())


def _imports(tree: ast.AST):
    """Every dxmi module imported anywhere in the file, lazy imports in functions included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "dxmi":
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "dxmi")


def test_imports_point_down_the_layers():
    bad = []
    for rel, tree in _modules():
        own = rel.parts[0].removesuffix(".py")
        assert own in LAYER, f"{rel}: not in a layer of this test; place it"
        for module in _imports(tree):
            parts = module.split(".")
            if len(parts) == 1:
                bad.append(f"{rel} imports the package face `dxmi`")
            elif LAYER[parts[1]] > LAYER[own]:
                bad.append(f"{rel} ({own}) imports {module} ({parts[1]}, a later layer)")
    assert not bad, "\n".join(bad)


def test_one_loop_drives_every_trainer():
    """`.iteration(` of a trainer is called in exactly one place of src/: `run_loop`."""
    callers = []
    for rel, tree in _modules():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "iteration"
            ):
                callers.append(f"{rel}:{node.lineno}")
    assert len(callers) == 1 and callers[0].startswith("runs/loop.py:"), callers


def test_import_dxmi_loads_no_heavy_dependency():
    code = (
        "import dxmi, sys; print(sorted(m for m in "
        "('accelerate', 'tensorboard', 'matplotlib', 'diffusers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
