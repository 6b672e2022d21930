"""The house rules of DESIGN.md, checked by parsing every import (no oracle: structural invariants).

1. A room imports only rooms below it: saving <- ops, distribution <- layers <- training <-
   models <- io, inspect <- the top (cli/, convert.py, sklearn.py, and the public face:
   unrolled/__init__.py, the Keras-named modules beside it and preprocessing/); data/ stands
   alone; leaves (_version, _runtime) import nothing from unrolled. Every import counts: module
   level, inside functions, under `if TYPE_CHECKING:`. An import upward is allowed only where
   `LAZY_FACADES` lists it.
2. No import circle between files, imports inside functions included (same allowlist).
3. ops/, distribution/ and data/ keep away from the frameworks they must not need.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "unrolled"

# room -> rooms it may import (besides itself)
# saving/ (the registry and the layer serializer) imports nothing from unrolled; every room but
# data/ may use it.
ALLOWED = {
    "saving": set(),
    "ops": {"saving"},
    "data": set(),
    "distribution": {"saving"},  # jax.sharding and jax.distributed, beside ops
    "layers": {"ops", "saving"},
    "training": {"distribution", "ops", "layers", "data", "saving"},  # data: streams
    "models": {"distribution", "ops", "layers", "training", "data", "saving"},
    "io": {"distribution", "ops", "layers", "training", "models", "data", "saving"},
    "inspect": {"distribution", "ops", "layers", "training", "models", "data", "io", "saving"},
    "top": {"distribution", "ops", "layers", "training", "models", "data", "io", "inspect",
            "saving", "top"},
}
# Leaf modules every room may use: they import nothing from unrolled (checked below).
LEAVES = {"_version", "_runtime"}
EXTERNAL_FORBIDDEN = {"ops": {"keras", "torch", "tensorflow", "h5py"},
                      "data": {"jax", "keras", "torch", "tensorflow"},
                      "distribution": {"keras", "torch", "tensorflow", "h5py"},
                      "saving": {"jax", "keras", "torch", "tensorflow", "h5py", "numpy"}}

# The few facades where a lower room reaches up on purpose, inside a function, so that users get
# Keras's methods where Keras has them. (importing file, imported module): why.
LAZY_FACADES = {
    ("models/model.py", "unrolled.inspect.explain"): "Model.explain() -> inspect.explain",
    ("models/model.py", "unrolled.io.keras_format"): "Model.save -> io, as keras.Model.save",
    ("models/model.py", "unrolled.io.weights_h5"): "Model.save_weights/load_weights -> io",
    ("models/saving.py", "unrolled.io.keras_format"): "models.load_model -> io, as Keras's",
    ("saving/__init__.py", "unrolled.models.saving"): "saving.load_model, as keras.saving's",
    # Model(inputs, outputs) returns a Functional, as keras.Model(inputs, outputs) does; the
    # subclass must import its base, so the base reaches it lazily in __new__.
    ("models/model.py", "unrolled.models.functional"): "Model.__new__ -> Functional",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(path: Path, node: ast.ImportFrom) -> str | None:
    if node.level == 0:
        return node.module
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path):
    """Yield ``(imported module, lineno, at module level)`` for every import in ``path``."""
    tree = ast.parse(path.read_text())
    top_level = set()
    for node in tree.body:
        top_level.add(id(node))
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` and the like stay module level
            top_level.update(id(n) for n in node.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in top_level
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(path, node)
            if module is None:
                continue
            for alias in node.names:  # `from unrolled.io import weights_h5` names a module
                sub = f"{module}.{alias.name}"
                yield (sub if _file_of(sub) else module), node.lineno, id(node) in top_level


def _file_of(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != "unrolled":
        return None
    base = SRC.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def room_of(path: Path) -> str:
    """The room of a source file: its folder under unrolled/, or "top" for the modules beside."""
    rel = path.relative_to(SRC)
    if len(rel.parts) == 1:
        return "leaf" if rel.stem in LEAVES else "top"
    # cli/ and preprocessing/ (Keras's name for re-exports of data/) belong to the public face
    return "top" if rel.parts[0] in ("cli", "preprocessing") else rel.parts[0]


def _files():
    return sorted(SRC.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def direction_violations(files) -> list[str]:
    bad = []
    for path in files:
        room = room_of(path)
        for module, line, _ in imports(path):
            top = module.split(".")[0]
            if room in EXTERNAL_FORBIDDEN and top in EXTERNAL_FORBIDDEN[room]:
                bad.append(f"{_rel(path)}:{line} imports {module}")
            target = _file_of(module)
            if target is None or room == "leaf":
                continue
            target_room = room_of(target)
            if target_room in (room, "leaf") or target_room in ALLOWED.get(room, set()):
                continue
            if (_rel(path), module) in LAZY_FACADES:
                continue
            bad.append(f"{_rel(path)}:{line} ({room}) imports {module} ({target_room})")
    return bad


def import_graph(files) -> dict[Path, set[Path]]:
    graph: dict[Path, set[Path]] = {p: set() for p in files}
    for path in files:
        for module, _, _ in imports(path):
            target = _file_of(module)
            if target is None or target == path or (_rel(path), module) in LAZY_FACADES:
                continue
            graph[path].add(target)
    return graph


def cycles(graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """Strongly connected components of more than one file (Tarjan, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(root):
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_every_room_imports_only_rooms_below():
    bad = direction_violations(_files())
    assert not bad, "import direction violated:\n" + "\n".join(bad)


def test_no_import_circle_between_files():
    found = cycles(import_graph(_files()))
    assert not found, "import circles (imports inside functions count):\n" + "\n".join(
        " <-> ".join(_rel(p) for p in c) for c in found)


def test_the_checker_sees_the_top_and_the_facades():
    rels = {_rel(p) for p in _files()}
    for name in ("convert.py", "sklearn.py", "cli/__init__.py"):
        assert name in rels and room_of(SRC / name) == "top"
    for (path, module), why in LAZY_FACADES.items():
        assert (SRC / path).is_file() and why, path
        assert any(m == module for m, _, level in imports(SRC / path) if not level), (
            f"{path} no longer imports {module} inside a function: drop it from LAZY_FACADES")


def test_leaves_import_nothing_from_unrolled():
    for path in _files():
        if room_of(path) == "leaf":
            assert not [m for m, _, _ in imports(path) if m.split(".")[0] == "unrolled"], path


@pytest.mark.parametrize("source, room, flagged", [
    ("from unrolled.models import Sequential\n", "layers", True),  # module level, upward
    ("def f():\n    from unrolled.io import keras_format\n", "training", True),  # inside a function
    ("if True:\n    import unrolled.inspect\n", "ops", True),
    ("from unrolled.ops import rnn\n", "layers", False),
    ("import torch\n", "ops", True),
    ("import jax\n", "data", True),
])
def test_the_checker_can_fail(tmp_path, monkeypatch, source, room, flagged):
    fake = SRC / room / "_architecture_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source if self == fake
                        else Path.read_bytes(self).decode())
    assert bool(direction_violations([fake])) is flagged


def test_the_cycle_finder_can_fail():
    a, b, c = Path("a.py"), Path("b.py"), Path("c.py")
    assert cycles({a: {b}, b: {c}, c: {a}}) == [[a, b, c]]
    assert cycles({a: {b}, b: {c}, c: set()}) == []
