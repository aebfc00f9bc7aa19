"""``constraints.txt`` agrees with pyproject.toml, is closed, and ``make`` installs with it.

No network: pyproject.toml, the lock, and the metadata of the installed distributions.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from tools import lockfile
from tools.lockfile import LOCK, ROOT, LockError, Pin, read_lock

FIX = "edit pyproject.toml or run `make lock`"


@pytest.fixture(scope="module")
def lock() -> dict[NormalizedName, Pin]:
    return read_lock()


def test_every_project_requirement_is_pinned_to_an_allowed_version(lock: dict[NormalizedName, Pin]) -> None:
    requirements = lockfile.project_requirements()
    assert {"pytest", "boto3", "caikit"} <= {r.name for r in requirements}  # extras read too
    problems = lockfile.disagreements(requirements, read_lock())
    assert not problems, f"{FIX}:\n" + "\n".join(problems)


def test_a_pyproject_the_lock_does_not_satisfy_is_caught(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["transformers>=99", "pyyaml"]\n'
                         '[project.optional-dependencies]\n'
                         'dev = ["no-such-dist-xyz>=1", "pywin32; sys_platform == \'win32\'"]\n')
    problems = lockfile.disagreements(lockfile.project_requirements(pyproject), read_lock())
    assert len(problems) == 2, problems  # pyyaml is pinned; pywin32 does not apply here
    assert problems[0].startswith("transformers>=99 excludes the pinned transformers==")
    assert problems[1] == "no-such-dist-xyz>=1 is not pinned"


def test_the_lock_is_closed_under_the_installed_metadata(lock: dict[NormalizedName, Pin]) -> None:
    """What pyproject.toml needs (transitively) is exactly what is pinned, each pin allowed."""
    resolution = lockfile.resolve_installed(lockfile.project_requirements())
    needed = resolution.pins
    missing = sorted(set(needed) - set(lock))
    stale = sorted(set(lock) - set(needed))
    assert not missing and not stale, f"{FIX}: not pinned {missing}; pinned, not needed {stale}"
    problems = []
    for name, pin in lock.items():
        if needed[name].version != pin.version:
            continue  # installed at another version: its metadata says nothing about the pin
        for text in importlib.metadata.distribution(name).requires or []:
            req = Requirement(text)
            if not lockfile.applies(req, resolution.extras[name]):
                continue
            dep = lock.get(canonicalize_name(req.name))
            if dep is not None and not req.specifier.contains(dep.version, prereleases=True):
                problems.append(f"{pin} needs {req}, the lock pins {dep}")
    assert not problems, "\n".join(problems)


def test_lock_lines_are_exact_pins(tmp_path: Path) -> None:
    for bad, message in [("torch>=2\n", "not an exact pin"), ("a==1\nA==2\n", "pinned twice"),
                         ("caikit[runtime-http]==0.29.1\n", "not an exact pin")]:
        path = tmp_path / "c.txt"
        path.write_text(bad)
        with pytest.raises(LockError, match=message):
            read_lock(path)


def test_the_generator_reproduces_the_pins_it_reads(lock: dict[NormalizedName, Pin], tmp_path: Path) -> None:
    needed = lockfile.installed_closure(lockfile.project_requirements())
    path = tmp_path / "constraints.txt"
    path.write_text(lockfile.render(needed.values()))
    assert read_lock(path) == needed


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_installs_with_the_lock() -> None:
    done = subprocess.run(["make", "-n", "-B", "install"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    installs = [ln for ln in done.stdout.splitlines()
                if "pip install" in ln and "--upgrade pip" not in ln]
    assert len(installs) >= 2, done.stdout  # torch first, then the project
    assert all(f"-c {LOCK.name}" in ln for ln in installs), installs
    assert f"torch=={read_lock()[canonicalize_name('torch')].version}" in installs[0]
