"""The jobs layer imports no caikit, and the training-job modules form no import cycle
(lazy imports inside functions included)."""

from __future__ import annotations

import ast
import subprocess
import sys
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


def test_jobs_import_nothing_from_caikit_or_above() -> None:
    for path in (PACKAGE / "jobs").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert not name.startswith(("caikit", "medcat_den.caikit", "medcat_den.cli")), \
                    f"{path.name} imports {name}"
    # and at run time: importing every jobs module loads no caikit module
    code = ("import sys, importlib, pkgutil, medcat_den.jobs as j\n"
            "for m in pkgutil.iter_modules(j.__path__): importlib.import_module(j.__name__"
            " + '.' + m.name)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'caikit'"
            " or m.startswith('medcat_den.caikit'))\n"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=PACKAGE.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
