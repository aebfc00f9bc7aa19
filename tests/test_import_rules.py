"""The layering in docs/architecture.md, checked on the source: every import, lazy ones included.

Each module of ``medcat_den`` belongs to one layer; a layer may import only the layers listed for it.
The module graph (every ``import`` anywhere in a file, ``TYPE_CHECKING`` blocks excepted) has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "medcat_den"

# layer -> the layers it may import (itself always allowed). Mirrors docs/architecture.md.
BELOW_DEN = {"errors", "definitions", "storage", "pack", "cache"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "definitions": {"errors"},
    "storage": {"errors"},
    "pack": {"errors", "storage"},
    "cache": {"errors", "definitions", "storage", "pack"},
    "den": BELOW_DEN,
    "injection": {"den", *BELOW_DEN},
    "caikit": {"den", *BELOW_DEN},
    "training": {"errors"},
    "linking": {"errors", "training"},
    "jobs": {"den", *BELOW_DEN, "training", "linking"},
    "caikit.trainers": {"caikit", "jobs", "den", *BELOW_DEN, "training", "linking"},
    "caikit.registration": {"caikit", "caikit.trainers", "errors"},
    "compat": {"den", *BELOW_DEN, "injection", "training", "linking", "jobs"},
    "cli": {"den", *BELOW_DEN, "injection", "caikit", "caikit.trainers", "caikit.registration",
            "training", "linking", "jobs", "compat"},
}
# medcat-den 0.6.0's module paths (docs/migrating-from-medcat-den.md): its plain definitions
# (DenType, config records, the add-on registry) sit below the den; the rest is a thin layer above it.
DEFINITION_MODULES = {"backend", "config", "addons"}
COMPAT_MODULES = {"base", "utils", "wrappers", "resolver", "backend_impl", "compat"}
TOP_LEVEL = {"__init__": "errors", "__main__": "cli"}


def layer_of(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts:
        return "errors"  # the package's own __init__ imports nothing
    head = parts[0]
    if parts == ["caikit", "__main__"]:
        return "cli"  # an entry point (``python -m medcat_den.caikit serve``), like __main__
    if head == "caikit" and len(parts) == 1:
        return "caikit.registration"  # importing medcat_den.caikit registers plugin and trainers
    if head == "caikit" and parts[1] == "trainers":
        return "caikit.trainers"
    if head in DEFINITION_MODULES:
        return "definitions"
    if head in COMPAT_MODULES:
        return "compat"
    if head in TOP_LEVEL:
        return TOP_LEVEL[head]
    return head


def module_name(path: Path, root: Path = PACKAGE_ROOT) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path, root: Path = PACKAGE_ROOT) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("medcat_den"))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - child.level + 1]
                    target = ".".join([*base, child.module] if child.module else base)
                else:
                    target = child.module or ""
                if target.startswith("medcat_den"):
                    found.add(target)
                    # `from medcat_den.x import y` may name a submodule y
                    found.update(f"{target}.{a.name}" for a in child.names)
            visit(child)

    visit(tree)
    return found


def _graph(root: Path = PACKAGE_ROOT) -> dict[str, set[str]]:
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {t for t in imports_of(path, root) if t in modules and t != name}
    return graph


def test_every_module_has_a_known_layer() -> None:
    unknown = sorted({layer_of(m) for m in _graph()} - set(ALLOWED))
    assert not unknown, f"modules outside any layer of docs/architecture.md: {unknown}"


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    violations = []
    for module, targets in graph.items():
        source_layer = layer_of(module)
        for target in targets:
            target_layer = layer_of(target)
            if target_layer != source_layer and target_layer not in ALLOWED.get(source_layer, set()):
                violations.append(f"{module} ({source_layer}) imports {target} ({target_layer})")
    return sorted(violations)


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    # a package's __init__ importing its own submodules is not a cycle through them
    edges = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt):], nxt]))
            elif nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            dfs(module)
    return cycles


def test_imports_point_one_way() -> None:
    violations = layer_violations(_graph())
    assert not violations, "\n".join(violations)


def test_no_import_cycles() -> None:
    cycles = import_cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("lazy", [False, True])
def test_the_checks_catch_an_upward_import_and_a_cycle(tmp_path: Path, lazy: bool) -> None:
    root = tmp_path / "medcat_den"
    for rel in ("__init__.py", "storage/__init__.py", "den/__init__.py", "linking/__init__.py",
                "training/__init__.py"):
        _write(root, rel, "")
    upward = "from medcat_den.den.api import Den\n"
    if lazy:  # an import inside a function counts too
        upward = "def f():\n    from medcat_den.den.api import Den\n    return Den\n"
    _write(root, "storage/local.py", upward)
    _write(root, "den/api.py", "class Den: ...\n")
    _write(root, "linking/a.py", "from medcat_den.linking import b\n")
    _write(root, "linking/b.py", "import medcat_den.linking.a\n")
    graph = _graph(root)
    assert layer_violations(graph) == [
        "medcat_den.storage.local (storage) imports medcat_den.den.api (den)"]
    assert import_cycles(graph) == [
        "medcat_den.linking.a -> medcat_den.linking.b -> medcat_den.linking.a"]
