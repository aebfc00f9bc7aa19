"""A whole den on S3 (moto's server on 127.0.0.1): push/list/fetch/tag/delete, concurrency."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from medcat_den.den import Den, get_default_den
from medcat_den.pack.layout import blob_key
from medcat_den.storage.s3 import S3Backend
from tests.helpers.s3 import S3Server


@pytest.fixture()
def s3_env(isolated_env: Path, s3_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MEDCAT_DEN_TYPE", "S3")
    monkeypatch.delenv("MEDCAT_DEN_PATH", raising=False)
    monkeypatch.setenv("MEDCAT_DEN_REMOTE_HOST", s3_url)
    return s3_url


def test_push_list_fetch_tag_delete(s3_env: str, tiny_pack: Path, tiny_pack_b: Path,
                                    s3_server: S3Server) -> None:
    den = get_default_den()
    assert "S3Backend(s3://" in repr(den)
    a = den.push_model(str(tiny_pack), "first", name="tiny")
    b = den.push_model(str(tiny_pack_b), "second", name="tiny")
    assert (a.version, b.version) == (1, 2)
    listed = den.list_available_models(name="tiny")
    assert {m.model_id for m in listed} == {a.model_id, b.model_id}
    # a fresh process-like den (new cache folder) fetches and verifies from S3
    s3_server.reset_counts()
    cat = get_default_den().fetch_model("den://tiny/1")
    assert "C0024117" in cat.cdb.cui2info
    assert s3_server.count("GetObject", "/objects/blobs/") == len(
        {e.blob for e in den.manifest(a.model_id).files.values()})
    den.tag("den://tiny/1", "prod")
    assert den.resolve("den://tiny@prod") == a.model_id
    assert den.resolve("den://tiny") == b.model_id
    den.untag("tiny", "prod")
    den.delete(b.model_id)
    assert [m.model_id for m in den.list_available_models()] == [a.model_id]
    assert den.resolve("den://tiny") == a.model_id


def test_16_concurrent_pushers_store_one_model(s3_url: str, tiny_pack: Path) -> None:
    dens = [Den(S3Backend(s3_url)) for _ in range(16)]
    barrier = threading.Barrier(16)
    results: list[str] = []
    errors: list[BaseException] = []

    def push(den: Den) -> None:
        try:
            barrier.wait()
            results.append(den.push_model(str(tiny_pack), name="same").model_id)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=push, args=(d,)) for d in dens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(results)) == 1 and len(results) == 16
    den = Den(S3Backend(s3_url))
    models = den.list_available_models()
    assert [m.model_id for m in models] == results[:1]
    assert models[0].version == 1 and models[0].aliases == ["latest"]
    assert den.verify() == []
    manifest = den.manifest(results[0])
    assert sorted(den.backend.list_keys("blobs/")) == sorted(
        {blob_key(e.blob) for e in manifest.files.values()})
