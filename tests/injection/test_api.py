"""inject_into_medcat / uninject_into_medcat / injected_den against a real den and real packs."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from medcat.cat import CAT

from medcat_den.den import Den, ModelInfo, source_of
from medcat_den.errors import ModelNotFoundError
from medcat_den.injection import (
    api,
    current_injection,
    inject_into_medcat,
    injected_den,
    uninject_into_medcat,
)
from tests.helpers.injection import ORIGINAL_LOAD, ORIGINAL_SAVE

NOT_A_PACK = "not a directory"  # MedCAT's error for a path that is not a pack folder


class MyCAT(CAT):
    """A user's CAT subclass that does not touch load_model_pack."""


class OverridingCAT(CAT):
    """A user's CAT subclass that wraps load_model_pack itself."""

    via_override = False

    @classmethod
    def load_model_pack(cls, model_pack_path: str, *args: Any, **kwargs: Any) -> CAT:
        cat = super().load_model_pack(model_pack_path, *args, **kwargs)
        cat.via_override = True  # type: ignore[attr-defined]
        return cat


# -- the API forms ---------------------------------------------------------------------------


def test_inject_without_prefix_names_from_den_paths_from_disk(
    tiny_in_den: ModelInfo, tiny_pack: Path, work_dir: Path
) -> None:
    handle = inject_into_medcat()
    try:
        assert current_injection() is handle
        assert CAT.__dict__["load_model_pack"] is not ORIGINAL_LOAD
        from_den = CAT.load_model_pack("tiny")
        assert source_of(from_den) == tiny_in_den.model_id
        from_disk = CAT.load_model_pack(str(tiny_pack))
        assert source_of(from_disk) is None
        assert from_disk.cdb.cui2info.keys() == from_den.cdb.cui2info.keys()
    finally:
        assert uninject_into_medcat() is True
    assert current_injection() is None
    assert CAT.__dict__["load_model_pack"] is ORIGINAL_LOAD
    assert CAT.__dict__["save_model_pack"] is ORIGINAL_SAVE
    with pytest.raises(ValueError, match=NOT_A_PACK):
        CAT.load_model_pack("tiny")
    assert uninject_into_medcat() is False


def test_unknown_name_without_prefix_says_where_it_looked(
    tiny_in_den: ModelInfo, work_dir: Path
) -> None:
    with injected_den():
        with pytest.raises(ModelNotFoundError, match="neither an existing path nor a model"):
            CAT.load_model_pack("no-such-model")


def test_prefix_only_prefixed_names_come_from_den(
    tiny_in_den: ModelInfo, tiny_pack: Path, work_dir: Path
) -> None:
    with injected_den(prefix="den:") as handle:
        assert handle.options.prefix == "den:"
        assert source_of(CAT.load_model_pack("den:tiny")) == tiny_in_den.model_id
        # without the prefix: plain MedCAT, even for a name the den knows
        with pytest.raises(ValueError, match=NOT_A_PACK):
            CAT.load_model_pack("tiny")
        assert source_of(CAT.load_model_pack(str(tiny_pack))) is None


def test_mapper_dict_turns_code_names_into_den_refs(
    tiny_in_den: ModelInfo, work_dir: Path
) -> None:
    with injected_den(model_name_mapper={"production-ner": "den://tiny@latest"}):
        cat = CAT.load_model_pack("production-ner")
    assert source_of(cat) == tiny_in_den.model_id


def test_subclass_gets_its_own_type_back(tiny_in_den: ModelInfo, work_dir: Path) -> None:
    with injected_den():
        mine = MyCAT.load_model_pack("tiny")
        overriding = OverridingCAT.load_model_pack("tiny")
    assert type(mine) is MyCAT
    assert source_of(mine) == tiny_in_den.model_id
    assert type(overriding) is OverridingCAT
    assert overriding.via_override is True
    assert source_of(overriding) == tiny_in_den.model_id


def test_addon_options_still_come_from_den_as_the_subclass(
    tiny_in_den: ModelInfo, work_dir: Path
) -> None:
    with injected_den():
        cat = MyCAT.load_model_pack("tiny", addon_config_dict={"meta_cat.Nothing": {}})
    assert type(cat) is MyCAT
    assert set(cat.cdb.cui2info) == {"C0011849", "C0020538", "C0004096", "C0027051",
                                     "C0018801", "C0006826", "C0024117"}


# -- nesting ---------------------------------------------------------------------------------


def test_inner_block_restores_outer_injection(tiny_in_den: ModelInfo, work_dir: Path) -> None:
    with injected_den(prefix="a:") as outer:
        with injected_den(prefix="b:") as inner:
            assert current_injection() is inner
            assert source_of(CAT.load_model_pack("b:tiny")) == tiny_in_den.model_id
            with pytest.raises(ValueError, match=NOT_A_PACK):
                CAT.load_model_pack("a:tiny")
        assert current_injection() is outer
        assert source_of(CAT.load_model_pack("a:tiny")) == tiny_in_den.model_id
    assert current_injection() is None
    assert CAT.__dict__["load_model_pack"] is ORIGINAL_LOAD


def test_block_left_by_exception_restores_state(isolated_env: Path) -> None:
    with injected_den(prefix="outer:") as outer:
        with pytest.raises(RuntimeError):
            with injected_den(prefix="inner:"):
                raise RuntimeError("boom")
        assert current_injection() is outer
    assert current_injection() is None


def test_process_wide_injections_stack(isolated_env: Path) -> None:
    first = inject_into_medcat(prefix="one:")
    second = inject_into_medcat(prefix="two:")
    assert current_injection() is second
    assert uninject_into_medcat() is True
    assert current_injection() is first
    # removing a specific handle, not the latest
    third = inject_into_medcat(prefix="three:")
    assert uninject_into_medcat(first) is True
    assert current_injection() is third
    assert uninject_into_medcat(first) is False
    assert uninject_into_medcat() is True
    assert current_injection() is None
    assert CAT.__dict__["load_model_pack"] is ORIGINAL_LOAD


def test_block_wins_over_process_wide_and_uninject_leaves_block_alone(
    isolated_env: Path,
) -> None:
    glob = inject_into_medcat(prefix="glob:")
    with injected_den(prefix="blk:") as block:
        assert current_injection() is block
        assert uninject_into_medcat() is True  # removes the process-wide one only
        assert current_injection() is block
        assert uninject_into_medcat() is False
        assert CAT.__dict__["load_model_pack"] is not ORIGINAL_LOAD
    assert current_injection() is None
    assert glob.options.prefix == "glob:"
    assert CAT.__dict__["load_model_pack"] is ORIGINAL_LOAD


# -- threads ---------------------------------------------------------------------------------


def test_block_in_one_thread_does_not_affect_another(
    tiny_in_den: ModelInfo, work_dir: Path
) -> None:
    inside = threading.Event()
    release = threading.Event()
    seen: dict[str, Any] = {}

    def worker() -> None:
        try:
            with injected_den():
                seen["cat"] = CAT.load_model_pack("tiny")
                inside.set()
                release.wait(60)
        except BaseException as e:  # surfaced below
            seen["error"] = e
            inside.set()

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert inside.wait(60)
        assert "error" not in seen, seen.get("error")
        # the patch is on the class, but this thread is not in the block
        assert CAT.__dict__["load_model_pack"] is not ORIGINAL_LOAD
        assert current_injection() is None
        with pytest.raises(ValueError, match=NOT_A_PACK):
            CAT.load_model_pack("tiny")
    finally:
        release.set()
        t.join(60)
    assert source_of(seen["cat"]) == tiny_in_den.model_id


def test_process_wide_injection_is_seen_by_other_threads(
    tiny_in_den: ModelInfo, work_dir: Path
) -> None:
    seen: dict[str, Any] = {}

    def worker() -> None:
        try:
            seen["cat"] = CAT.load_model_pack("tiny")
        except BaseException as e:
            seen["error"] = e

    with injected_den(process_wide=True):
        t = threading.Thread(target=worker)
        t.start()
        t.join(60)
    assert "error" not in seen, seen.get("error")
    assert source_of(seen["cat"]) == tiny_in_den.model_id


def test_many_threads_nesting_concurrently_keep_their_own_state(isolated_env: Path) -> None:
    errors: list[str] = []
    start = threading.Barrier(6)

    def block_worker(n: int) -> None:
        start.wait()
        for i in range(150):
            with injected_den(prefix=f"t{n}:") as outer:
                if current_injection() is not outer:
                    errors.append(f"thread {n} iteration {i}: outer block not current")
                with injected_den(prefix=f"t{n}-inner:") as inner:
                    if current_injection() is not inner:
                        errors.append(f"thread {n} iteration {i}: inner block not current")
                if current_injection() is not outer:
                    errors.append(f"thread {n} iteration {i}: outer not restored")

    def process_wide_worker() -> None:
        start.wait()
        for _ in range(150):
            handle = inject_into_medcat(prefix="pw:")
            if not uninject_into_medcat(handle):
                errors.append("process-wide handle vanished")

    threads = [threading.Thread(target=block_worker, args=(n,)) for n in range(5)]
    threads.append(threading.Thread(target=process_wide_worker))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert api.STATE.active_count == 0
    assert CAT.__dict__["load_model_pack"] is ORIGINAL_LOAD
    assert CAT.__dict__["save_model_pack"] is ORIGINAL_SAVE


def test_asyncio_tasks_each_see_their_own_block(isolated_env: Path) -> None:
    async def task(prefix: str, mine: asyncio.Event, other: asyncio.Event) -> bool:
        with injected_den(prefix=prefix) as handle:
            mine.set()
            await other.wait()  # both blocks are open now, interleaved on one thread
            return current_injection() is handle

    async def both() -> list[bool]:
        a, b = asyncio.Event(), asyncio.Event()
        return list(await asyncio.gather(task("a:", a, b), task("b:", b, a)))

    assert asyncio.run(both()) == [True, True]
    assert current_injection() is None


# -- other patches ---------------------------------------------------------------------------


def test_patch_made_after_ours_survives_uninject(
    tiny_in_den: ModelInfo, work_dir: Path
) -> None:
    calls: list[str] = []
    handle = inject_into_medcat()
    ours = CAT.__dict__["load_model_pack"]

    def theirs_func(cls: type[CAT], path: str, *a: Any, **k: Any) -> CAT:
        calls.append(path)
        result: CAT = ours.__get__(None, cls)(path, *a, **k)
        return result

    theirs = classmethod(theirs_func)
    CAT.load_model_pack = theirs  # type: ignore[method-assign,assignment]
    try:
        assert source_of(CAT.load_model_pack("tiny")) == tiny_in_den.model_id
        assert uninject_into_medcat(handle)
        assert CAT.__dict__["load_model_pack"] is theirs  # not clobbered
        with pytest.raises(ValueError, match=NOT_A_PACK):
            CAT.load_model_pack("tiny")  # ours, under theirs, now passes through
        with injected_den():  # reuses ours under theirs rather than stacking another
            assert CAT.__dict__["load_model_pack"] is theirs
            assert source_of(CAT.load_model_pack("tiny")) == tiny_in_den.model_id
        # theirs saw every call: the code's, and the den's own load of its verified folder
        assert [c == "tiny" for c in calls] == [True, False, True, True, False]
    finally:
        CAT.load_model_pack = ours  # type: ignore[method-assign]  # they unpatch
    with injected_den():  # the next injection cycle takes ours off for good
        pass
    assert CAT.__dict__["load_model_pack"] is ORIGINAL_LOAD


def test_patch_made_before_ours_is_restored_exactly(
    tiny_in_den: ModelInfo, work_dir: Path
) -> None:
    calls: list[str] = []

    def theirs_func(cls: type[CAT], path: str, *a: Any, **k: Any) -> CAT:
        calls.append(path)
        result: CAT = ORIGINAL_LOAD.__get__(None, cls)(path, *a, **k)
        return result

    theirs = classmethod(theirs_func)
    CAT.load_model_pack = theirs  # type: ignore[method-assign,assignment]
    try:
        with injected_den():
            assert CAT.__dict__["load_model_pack"] is not theirs
            cat = CAT.load_model_pack("tiny")
        assert CAT.__dict__["load_model_pack"] is theirs
        assert source_of(cat) == tiny_in_den.model_id
        # the den loads its verified folder with whatever loader was there before us
        assert len(calls) == 1 and calls[0] != "tiny"
    finally:
        CAT.load_model_pack = ORIGINAL_LOAD  # type: ignore[method-assign]


# -- inject_save -----------------------------------------------------------------------------


def test_inject_save_pushes_instead_of_writing(
    tiny_in_den: ModelInfo, den: Den, work_dir: Path
) -> None:
    out = work_dir / "out"
    with injected_den(inject_save=True):
        cat = CAT.load_model_pack("tiny")
        cat.config.components.linking.similarity_threshold = 0.5  # new content
        ref = cat.save_model_pack(str(out), pack_name="tuned", change_description="threshold 0.5")
        assert ref == "den://tuned/1"
        assert not out.exists()
        info = den.info(ref)
        assert info.description == "threshold 0.5"
        assert info.parents == [tiny_in_den.model_id]
        back = CAT.load_model_pack(ref)
    assert source_of(back) == info.model_id
    assert back.config.components.linking.similarity_threshold == 0.5
    # without inject_save, saving writes to disk as usual
    out.mkdir()
    with injected_den():
        path = back.save_model_pack(str(out), pack_name="ondisk", make_archive=False,
                                    add_hash_to_pack_name=False)
    assert Path(path) == out / "ondisk" and (out / "ondisk").is_dir()
    assert [m.name for m in den.list_available_models()].count("ondisk") == 0


def test_inject_save_with_prefix_only_pushes_prefixed_targets(
    tiny_in_den: ModelInfo, den: Den, work_dir: Path
) -> None:
    (work_dir / "local").mkdir()
    with injected_den(prefix="den:", inject_save=True):
        cat = CAT.load_model_pack("den:tiny")
        cat.config.components.linking.similarity_threshold = 0.75
        ref = cat.save_model_pack("den:", pack_name="tuned-prefixed")
        assert ref == "den:den://tuned-prefixed/1"
        disk = cat.save_model_pack(str(work_dir / "local"), pack_name="kept", make_archive=False,
                                   add_hash_to_pack_name=False)
    assert den.info("den://tuned-prefixed").parents == [tiny_in_den.model_id]
    assert (work_dir / "local" / "kept").is_dir() and disk == str(work_dir / "local" / "kept")


# -- options from the environment -------------------------------------------------------------


def test_inject_into_medcat_reads_environment_and_arguments_win(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDCAT_DEN_INJECT_PREFIX", "envden:")
    monkeypatch.setenv("MEDCAT_DEN_INJECT_SAVE", "true")
    handle = inject_into_medcat()
    try:
        assert handle.options.prefix == "envden:"
        assert handle.options.inject_save is True
    finally:
        uninject_into_medcat(handle)
    with injected_den(prefix=None, inject_save=False) as block:
        assert block.options.prefix is None
        assert block.options.inject_save is False


def test_patch_clobbered_by_someone_else_is_installed_afresh(isolated_env: Path) -> None:
    handle = inject_into_medcat()
    CAT.load_model_pack = ORIGINAL_LOAD  # type: ignore[method-assign]  # someone undoes us
    uninject_into_medcat(handle)
    with injected_den() as block:
        assert CAT.__dict__["load_model_pack"] is not ORIGINAL_LOAD
        assert current_injection() is block
    assert CAT.__dict__["load_model_pack"] is ORIGINAL_LOAD
