"""The den's public API on a real local den with real MedCAT packs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medcat_den.den import Den, ModelInfo, get_default_den
from medcat_den.errors import (
    AmbiguousRefError,
    InvalidNameError,
    InvalidPackError,
    ModelInUseError,
    ModelNotFoundError,
)
from medcat_den.storage.local import LocalFolderBackend
from tests.conftest import TINY_CONCEPTS, build_pack

SENTENCE = "The patient has diabetes and asthma."


@pytest.fixture()
def den(den_root: Path) -> Den:
    return Den(LocalFolderBackend(str(den_root)))


def _cuis(cat: object) -> set[str]:
    ents = cat.get_entities(SENTENCE)["entities"]  # type: ignore[attr-defined]
    return {e["cui"] for e in ents.values()}


def test_seed_api_flow(isolated_env: Path, tiny_pack: Path) -> None:
    den = get_default_den()
    den.push_model(str(tiny_pack), "initial", name="tiny")
    models = den.list_available_models()
    assert len(models) == 1 and isinstance(models[0], ModelInfo)
    cat = den.fetch_model(models[0])
    assert _cuis(cat) == {"C0011849", "C0004096"}
    info = den.push_model(cat, "Did some fine-tuning")
    assert isinstance(info, ModelInfo)
    # a re-save of the same model is the same content: nothing new, same id
    assert info.model_id == models[0].model_id
    assert len(den.list_available_models()) == 1
    assert (isolated_env / "den").is_dir()


def test_dedup_identical_pushes_stores_nothing_new(den: Den, den_root: Path, tiny_pack: Path) -> None:
    first = den.push_model(str(tiny_pack), "one", name="tiny")
    files_before = sorted(p for p in (den_root / "objects").rglob("*") if p.is_file())
    second = den.push_model(str(tiny_pack), "two", name="tiny")
    files_after = sorted(p for p in (den_root / "objects").rglob("*") if p.is_file())
    assert second.model_id == first.model_id and second.version == 1
    assert files_after == files_before


def test_resave_in_another_process_dedups(den: Den, tiny_pack: Path, tmp_path: Path) -> None:
    """Dill pickles of sets differ between processes; the substance digest does not."""
    first = den.push_model(str(tiny_pack), "orig", name="tiny")
    code = (
        "import sys\nfrom medcat.cat import CAT\n"
        "cat = CAT.load_model_pack(sys.argv[1])\n"
        "print(cat.save_model_pack(sys.argv[2], pack_name='resaved', make_archive=False,"
        " add_hash_to_pack_name=False))\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code, str(tiny_pack), str(tmp_path)], env=env,
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    raw_a = (tiny_pack / "cdb" / "raw_dict.dat").read_bytes()
    raw_b = (Path(out) / "cdb" / "raw_dict.dat").read_bytes()
    assert raw_a != raw_b or (tiny_pack / "model_card.json").read_bytes() != (
        Path(out) / "model_card.json").read_bytes()
    again = den.push_model(out, "resaved")
    assert again.model_id == first.model_id


def test_derivative_stores_only_changed_file(den: Den, den_root: Path, tiny_pack: Path,
                                             tmp_path: Path) -> None:
    base = den.push_model(str(tiny_pack), "base", name="tiny")
    cat = den.fetch_model("den://tiny")
    cat.config.components.linking.similarity_threshold = 0.123
    blobs = den_root / "objects" / "blobs"
    before = {p.name for p in blobs.rglob("*") if p.is_file()}
    child = den.push_model(cat, "tweaked threshold")
    after = {p.name for p in blobs.rglob("*") if p.is_file()}
    assert child.model_id != base.model_id
    assert child.parents == [base.model_id]
    assert child.name == "tiny" and child.version == 2 and "latest" in child.aliases
    new_files = after - before
    changed = {e.blob for rel, e in den.manifest(child).files.items()
               if den.manifest(base).files.get(rel) != e}
    assert new_files == changed and 0 < len(new_files) <= 3
    assert den.lineage("den://tiny")[1].model_id == base.model_id


def test_refs_tags_and_versions(den: Den, tiny_pack: Path, tiny_pack_b: Path) -> None:
    a = den.push_model(str(tiny_pack), "a", name="m")
    b = den.push_model(str(tiny_pack_b), "b", name="m", aliases=["production"])
    assert den.resolve("den://m") == b.model_id
    assert den.resolve("den:/m/1") == a.model_id
    assert den.resolve("den://m@production") == b.model_id
    assert den.resolve(a.model_id[:12]) == a.model_id
    assert den.resolve(a.model_id) == a.model_id
    den.tag("den://m/1", "production")
    assert den.resolve("den://m@production") == a.model_id
    assert "production" in den.info(a.model_id).aliases
    den.untag("m", "production")
    with pytest.raises(ModelNotFoundError, match="production"):
        den.resolve("den://m@production")
    with pytest.raises(InvalidNameError):
        den.untag("m", "latest")
    with pytest.raises(ModelNotFoundError, match="no model named"):
        den.resolve("den://other")
    with pytest.raises(ModelNotFoundError, match="version 9"):
        den.resolve("den://m/9")
    with pytest.raises(ModelNotFoundError):
        den.resolve("0" * 12)
    if a.model_id[:12] == b.model_id[:12]:  # pragma: no cover - astronomically unlikely
        with pytest.raises(AmbiguousRefError):
            den.resolve(a.model_id[:12])


def test_delete_refuses_parent_unless_forced_and_gc_frees(den: Den, den_root: Path,
                                                          tiny_pack: Path) -> None:
    base = den.push_model(str(tiny_pack), "base", name="tiny")
    cat = den.fetch_model(base)
    cat.config.components.linking.similarity_threshold = 0.5
    child = den.push_model(cat, "child")
    with pytest.raises(ModelInUseError, match="parent"):
        den.delete(base.model_id)
    den.delete("den://tiny")  # the child: latest
    assert den.resolve("den://tiny") == base.model_id
    assert den.gc(grace_seconds=0) > 0
    den.delete(base.model_id)
    assert den.list_available_models() == []
    assert den.gc(grace_seconds=0) > 0
    assert not [p for p in (den_root / "objects" / "blobs").rglob("*") if p.is_file()]
    with pytest.raises(ModelNotFoundError):
        den.info(child.model_id)


def test_verify_reports_clean_den(den: Den, tiny_pack: Path) -> None:
    den.push_model(str(tiny_pack), "x", name="tiny")
    assert den.verify() == []


def test_push_zip_and_bad_inputs(den: Den, tiny_pack: Path, tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "pack"), "zip", root_dir=tiny_pack)
    info = den.push_model(archive, "from zip")
    assert info.name == "pack"
    assert den.push_model(str(tiny_pack), "folder").model_id == info.model_id
    with pytest.raises(InvalidPackError, match="no model pack"):
        den.push_model(str(tmp_path / "missing"), "x")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidPackError):
        den.push_model(str(empty), "x")
    notpack = tmp_path / "notpack"
    notpack.mkdir()
    (notpack / "hello.txt").write_text("hi")
    with pytest.raises(InvalidPackError, match="not a MedCAT model pack"):
        den.push_model(str(notpack), "x")
    with pytest.raises(InvalidNameError):
        den.push_model(str(tiny_pack), "x", name="../../evil")
    with pytest.raises(ModelNotFoundError, match="parent"):
        den.push_model(str(tiny_pack), "x", parents=["f" * 64])


def test_fetch_pack_to_folder_is_a_loadable_copy(den: Den, tiny_pack: Path, tmp_path: Path) -> None:
    from medcat.cat import CAT

    den.push_model(str(tiny_pack), "x", name="tiny")
    out = den.fetch_pack("den://tiny", str(tmp_path / "out"))
    cat = CAT.load_model_pack(out)
    assert _cuis(cat) == {"C0011849", "C0004096"}
    # a copy, not hard links into the den: editing it cannot corrupt the den
    assert all(os.stat(p).st_nlink == 1 for p in Path(out).rglob("*") if p.is_file())
    assert den.verify() == []


def test_fetch_model_returns_subclass(den: Den, tiny_pack: Path) -> None:
    from medcat.cat import CAT

    class MyCAT(CAT):
        pass

    info = den.push_model(str(tiny_pack), "x", name="tiny")
    cat = den.fetch_model("den://tiny", cat_class=MyCAT, device="cpu")
    assert type(cat) is MyCAT
    assert den.source_of(cat) == info.model_id


def test_two_different_packs_two_models(den: Den, tmp_path: Path) -> None:
    a = build_pack(tmp_path / "a", TINY_CONCEPTS[:4], "a")
    b = build_pack(tmp_path / "b", TINY_CONCEPTS[4:], "b")
    ia, ib = den.push_model(str(a), "a"), den.push_model(str(b), "b")
    assert ia.model_id != ib.model_id
    assert {m.name for m in den.list_available_models()} == {"a", "b"}
