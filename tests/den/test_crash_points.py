"""A pusher SIGKILLed right after a chosen backend write leaves a consistent den.

The fault-injection hook (``MEDCAT_DEN_FAULT_KILL_AFTER_WRITES=N``, see
``medcat_den/storage/fault_injection.py``) makes a real pushing process kill itself
right after its Nth backend write, so every stage of a push (blobs: first,
second, middle, last; the manifest, the substance index, the name ref, the
alias move) is interrupted once, deterministically. The expected state after N writes is taken from an
uninterrupted push watched write by write, so the test does not hard-code the
den's layout: after the kill the den must look exactly as it did at that point
of the clean push, verify clean, and the next push must complete it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from medcat_den.den import Den
from medcat_den.errors import ModelNotFoundError
from medcat_den.storage import fault_injection
from medcat_den.storage.local import LocalFolderBackend
from tests.conftest import TINY_CONCEPTS, build_pack
from tests.helpers.s3 import S3Server, s3_server, s3_url

__all__ = ["s3_server", "s3_url"]  # fixtures

# the second push: a new version of "m", then the alias "prod" moved to it
PUSHER = r"""
import sys
from medcat_den.den import Den
where = sys.argv[1]
if where.startswith("s3://"):
    from medcat_den.storage.s3 import S3Backend
    backend = S3Backend(where)
else:
    from medcat_den.storage.local import LocalFolderBackend
    backend = LocalFolderBackend(where)
den = Den(backend)
info = den.push_model(sys.argv[2], "new", name="m")
den.tag(info.model_id, "prod")
print("done", flush=True)
"""

REFS = ("den://m", "den://m@prod", "den://m/1", "den://m/2")


def open_den(where: str) -> Den:
    if where.startswith("s3://"):
        from medcat_den.storage.s3 import S3Backend

        return Den(S3Backend(where))
    return Den(LocalFolderBackend(where))


@dataclass(frozen=True)
class DenState:
    """What a user of the den can observe (``verify()`` is checked separately: it re-reads
    every blob, too slow to run after each write of the clean push)."""

    models: tuple[tuple[str, str | None, int | None, tuple[str, ...]], ...]
    refs: tuple[str | None, ...]


def observe_state(den: Den) -> DenState:
    models = tuple(sorted((m.model_id, m.name, m.version, tuple(sorted(m.aliases)))
                          for m in den.list_available_models()))
    refs: list[str | None] = []
    for ref in REFS:
        try:
            refs.append(den.resolve(ref))
        except ModelNotFoundError:
            refs.append(None)
    return DenState(models, tuple(refs))


def _push_and_tag(den: Den, pack: Path) -> None:
    info = den.push_model(str(pack), "new", name="m")
    den.tag(info.model_id, "prod")


@dataclass
class Scenario:
    kind: str  # "local" or "s3"
    base: Path
    old_pack: Path
    new_pack: Path
    s3: S3Server | None
    writes: list[tuple[str, str]] = field(default_factory=list)  # (operation, key), in order
    states: list[DenState] = field(default_factory=list)  # states[n]: after the first n writes

    template_bucket: str | None = None

    def fresh_den(self, name: str) -> str:
        """A den holding version 1 of "m", tagged "prod" (the same state every time: a copy
        of one pushed template, object for object)."""
        if self.s3 is not None:
            if self.template_bucket is None:
                self.template_bucket = self.s3.new_bucket()
                _push_and_tag(open_den(f"s3://{self.template_bucket}/den"), self.old_pack)
            bucket = self.s3.new_bucket()
            self.s3.copy_direct(self.template_bucket, bucket)
            return f"s3://{bucket}/den"
        template = self.base / "template"
        if not template.exists():
            _push_and_tag(open_den(str(template)), self.old_pack)
        shutil.copytree(template, self.base / name)
        return str(self.base / name)


@pytest.fixture(scope="module", params=["local", "s3"])
def scenario(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    base = tmp_path_factory.mktemp("crash")
    old_pack = build_pack(base / "old", TINY_CONCEPTS[:5], "old")
    new_pack = build_pack(base / "new", TINY_CONCEPTS, "new")
    server = request.getfixturevalue("s3_server") if request.param == "s3" else None
    sc = Scenario(request.param, base, old_pack, new_pack, server)
    where = sc.fresh_den("clean")
    clean_den = open_den(where)
    sc.states.append(observe_state(clean_den))

    # another user's view: a Den of its own, not the pusher's (which caches state), over a
    # backend of its own (it keeps only its client: a new boto3 client per write cost ~10 s)
    observer = open_den(where).backend

    def snapshot(n: int, operation: str, key: str) -> None:
        sc.writes.append((operation, key))
        sc.states.append(observe_state(Den(observer)))

    with fault_injection.observe(snapshot):
        _push_and_tag(clean_den, new_pack)
    assert clean_den.verify() == []
    return sc


def test_the_clean_push_passes_through_every_stage(scenario: Scenario) -> None:
    is_blob = [key.startswith("blobs/") for _op, key in scenario.writes]
    assert is_blob.count(True) >= 5  # several blobs: kills land between blobs too
    last_blob = max(n for n, b in enumerate(is_blob, 1) if b)
    assert not any(is_blob[last_blob:]) and is_blob.count(False) >= 2  # then manifest, names
    first, last = scenario.states[0], scenario.states[-1]
    assert first.refs[0] == first.refs[1] == first.refs[2] and first.refs[3] is None
    new_id = last.refs[3]
    assert new_id is not None and last.refs[:2] == (new_id, new_id) and last.refs[2] == first.refs[0]
    # the new model shows only once every blob is stored ...
    visible = [n for n, s in enumerate(scenario.states) if any(m[0] == new_id for m in s.models)]
    assert visible and visible[0] > last_blob
    # ... and the name moves before the alias does: a kill in between is a distinct state
    assert any(s.refs[0] == new_id and s.refs[1] != new_id for s in scenario.states)


def _kill_after(where: str, pack: Path, n: int, log: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TQDM_DISABLE="1")
    env[fault_injection.ENV_KILL_AFTER] = str(n)
    env[fault_injection.ENV_LOG] = str(log)
    return subprocess.run([sys.executable, "-c", PUSHER, where, str(pack)],
                          capture_output=True, text=True, env=env, timeout=120)


def kill_points(writes: list[tuple[str, str]], every_blob_stage: bool = True) -> list[int]:
    """Write numbers to kill after: every write that is not a blob, and blobs first, second,
    middle and last (between blobs, one more kill says nothing new and costs a process)."""
    blobs = [n for n, (_op, key) in enumerate(writes, 1) if key.startswith("blobs/")]
    others = [n for n, (_op, key) in enumerate(writes, 1) if not key.startswith("blobs/")]
    picked = {blobs[0], blobs[-1]}
    if every_blob_stage:
        picked |= {blobs[1], blobs[len(blobs) // 2]}
    return sorted(picked | set(others))


def test_sigkill_after_each_stage_leaves_a_consistent_den(scenario: Scenario,
                                                          tmp_path: Path) -> None:
    # S3 is slower per trial: its blob stages are the first and last only
    points = kill_points(scenario.writes, every_blob_stage=scenario.kind == "local")
    assert len(points) >= 5
    for n in points:
        where = scenario.fresh_den(f"den-{n}")
        log = tmp_path / f"writes-{n}.log"
        proc = _kill_after(where, scenario.new_pack, n, log)
        stage = scenario.writes[n - 1]
        # the kill landed exactly after write n, and that write was the expected one
        assert proc.returncode == -signal.SIGKILL, (n, proc.returncode, proc.stderr[-2000:])
        lines = log.read_text().splitlines()
        assert len(lines) == n and lines[-1].split(" ", 1)[1] == " ".join(stage), (n, lines[-3:])
        den = open_den(where)
        # the den shows exactly what it showed at that point of a clean push: no partial
        # model, names and aliases intact, every visible model verifies
        assert observe_state(den) == scenario.states[n], f"after write {n} {stage}"
        assert den.verify() == [], f"after write {n} {stage}"
        # the next push completes the interrupted one, whatever was left behind
        _push_and_tag(den, scenario.new_pack)
        assert observe_state(den) == scenario.states[-1], f"re-push after write {n} {stage}"
        assert den.verify() == [], f"re-push after write {n} {stage}"
        if scenario.kind == "local":
            den.gc(grace_seconds=0)
            assert not list((Path(where) / "tmp").iterdir()), f"temp files left after write {n}"
            assert observe_state(den) == scenario.states[-1]
            shutil.rmtree(where)


def test_kill_hook_is_off_by_default(scenario: Scenario) -> None:
    where = scenario.fresh_den("den-default")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDCAT_DEN_FAULT_")}
    proc = subprocess.run([sys.executable, "-c", PUSHER, where, str(scenario.new_pack)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr[-2000:]
    assert observe_state(open_den(where)) == scenario.states[-1]


def gc_during_push_keeps_its_blobs(open_den: Callable[[], Den], pack: Path) -> None:
    """``gc`` with its default grace period runs (from a Den of its own, as another process
    would) after each blob a push stores: the state of a push in flight, blobs up and no
    manifest naming them yet. It frees nothing of it."""
    den, collector = open_den(), open_den()
    freed: list[int] = []

    def on_write(_n: int, _operation: str, key: str) -> None:
        if key.startswith("blobs/"):
            freed.append(collector.gc())

    with fault_injection.observe(on_write):
        info = den.push_model(str(pack), "in flight", name="m")
    assert len(freed) >= 5 and set(freed) == {0}
    assert den.verify(info) == []
    with den.materialise(info) as folder:
        assert (Path(folder) / "cdb" / "raw_dict.dat").is_file()


def test_gc_during_a_local_push_keeps_its_blobs(den_root: Path, tiny_pack: Path) -> None:
    gc_during_push_keeps_its_blobs(lambda: open_den(str(den_root)), tiny_pack)


def test_gc_during_an_s3_push_keeps_its_blobs(s3_url: str, tiny_pack: Path) -> None:
    gc_during_push_keeps_its_blobs(lambda: open_den(s3_url), tiny_pack)
