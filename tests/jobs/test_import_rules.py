"""The jobs layer imports no caikit, and the training-job modules form no import cycle
(lazy imports inside functions included). Read from the source (ast), so nothing is run."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "medcat_den"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """medcat_den modules imported anywhere in ``path`` (``from X import name`` counts as
    X.name when that is a module, else X)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    graph = {}
    for name, path in files.items():
        # importing a.b.c runs a and a.b first: an edge to a package is an edge to its
        # __init__, which is enough for cycles through re-exports
        # (a submodule using its own package's __init__ runs while that package loads)
        graph[name] = {m for m in _imports(path, modules)
                       if m != name and not name.startswith(m + ".")}
    return graph


def _cycle_through(graph: dict[str, set[str]], roots: tuple[str, ...]) -> list[str] | None:
    """A cycle that passes through a module under ``roots`` (None if there is none)."""
    for start in sorted(m for m in graph if m.startswith(roots)):
        parents: dict[str, str] = {}
        todo = [start]
        while todo:
            node = todo.pop()
            for nxt in sorted(graph.get(node, set())):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt not in parents:
                    parents[nxt] = node
                    todo.append(nxt)
    return None


def test_no_import_cycle_through_the_training_job_modules() -> None:
    graph = _graph()
    roots = ("medcat_den.jobs", "medcat_den.caikit.trainers", "medcat_den.caikit.module")
    assert _cycle_through(graph, roots) is None, " -> ".join(_cycle_through(graph, roots) or [])


def _third_party(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_jobs_import_nothing_from_caikit_or_above() -> None:
    """Nothing the jobs modules import, directly or through other medcat_den modules
    (lazy imports included), is caikit, the caikit plugin or the CLI."""
    graph = _graph()
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    reached = {m for m in graph if m.startswith("medcat_den.jobs")}
    todo = list(reached)
    while todo:
        for nxt in graph[todo.pop()] - reached:
            reached.add(nxt)
            todo.append(nxt)
    above = sorted(m for m in reached if m.startswith(("medcat_den.caikit", "medcat_den.cli")))
    assert not above, f"medcat_den.jobs reaches {above}"
    caikit_users = sorted(m for m in reached if "caikit" in _third_party(files[m]))
    assert not caikit_users, f"medcat_den.jobs reaches caikit through {caikit_users}"
