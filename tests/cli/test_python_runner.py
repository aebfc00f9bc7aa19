"""``medcat_den.cli.python_runner`` (Python's command line, emulated) knows nothing of the den."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import medcat_den.cli.python_runner as python_runner


def test_it_imports_only_the_standard_library_and_the_errors() -> None:
    tree = ast.parse(Path(python_runner.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):  # lazy imports inside functions included
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    ours = {m for m in imported if m.split(".")[0] not in sys.stdlib_module_names}
    assert ours == {"medcat_den.errors"}, ours


def test_importing_it_loads_no_den_injection_or_medcat() -> None:
    code = ("import json, sys, medcat_den.cli.python_runner; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('medcat', 'caikit')))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["medcat_den", "medcat_den.cli", "medcat_den.cli.python_runner",
                                       "medcat_den.errors"]
