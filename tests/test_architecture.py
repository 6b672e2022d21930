"""The house rules of DESIGN.md, checked by parsing imports (no oracle: a structural invariant).

A room imports only rooms below it: ops <- layers <- training <- models <- io, inspect <- cli;
data stands alone; distribution (jax.sharding) sits beside ops, below training. Lazy imports
inside functions are allowed for models -> io/inspect.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "unrolled"

# room -> rooms it may import at module level (besides itself)
ALLOWED = {
    "ops": set(),
    "data": set(),
    "distribution": set(),
    "layers": {"ops"},
    "training": {"ops", "layers", "distribution"},
    "models": {"ops", "layers", "training", "data", "distribution"},
    "io": {"ops", "layers", "training", "models", "data", "distribution"},
    "inspect": {"ops", "layers", "training", "models", "data", "io", "distribution"},
}
EXTERNAL_FORBIDDEN = {
    "ops": {"keras", "torch", "tensorflow", "h5py"},
    "distribution": {"keras", "torch", "tensorflow", "h5py"},
    "data": {"jax"},
}


def _module_level_imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        nodes = [node]
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks are still module level
            nodes = node.body
        for n in nodes:
            if isinstance(n, ast.Import):
                yield from (a.name for a in n.names)
            elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                yield n.module


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "unrolled" and len(parts) > 1 else None


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_rooms_import_only_rooms_below(room):
    bad = []
    for path in sorted((SRC / room).rglob("*.py")):
        for imported in _module_level_imports(path):
            target = _room(imported)
            if target and target != room and target not in ALLOWED[room]:
                bad.append(f"{path.relative_to(SRC)} imports {imported}")
            top = imported.split(".")[0]
            if top in EXTERNAL_FORBIDDEN.get(room, set()):
                bad.append(f"{path.relative_to(SRC)} imports {imported}")
    assert not bad, "import direction violated:\n" + "\n".join(bad)


def test_rules_catch_a_violation(tmp_path):
    # The checker itself must be able to fail: a layers module importing models is flagged.
    fake = tmp_path / "x.py"
    fake.write_text("import numpy\nfrom unrolled.models import Sequential\n")
    targets = {_room(m) for m in _module_level_imports(fake)}
    assert "models" in targets and "models" not in ALLOWED["layers"]
