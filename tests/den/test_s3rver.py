"""A second S3 implementation (s3rver) that ignores conditional writes: refused, or single-writer."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from medcat_den.den import Den
from medcat_den.errors import ModelNotFoundError, UnsafeBackendError
from medcat_den.storage.s3 import GUARANTEE_CAS, GUARANTEE_CREATE, S3Backend
from tests.helpers.packs import variant
from tests.helpers.s3rver import S3rver


def _objects(server: S3rver, bucket: str) -> list[str]:
    client = boto3.session.Session().client("s3", endpoint_url=server.endpoint, region_name="us-east-1")
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_an_endpoint_ignoring_conditional_writes_is_refused(s3rver: S3rver,
                                                            tiny_pack: Path) -> None:
    bucket = s3rver.new_bucket()
    den = Den(S3Backend(f"s3://{bucket}/den", endpoint_url=s3rver.endpoint))
    missing = den.check_backend()
    assert GUARANTEE_CREATE in missing and GUARANTEE_CAS in missing
    assert any(GUARANTEE_CREATE in p for p in den.verify())
    with pytest.raises(UnsafeBackendError) as err:
        den.push_model(str(tiny_pack), name="tiny")
    message = str(err.value)
    assert s3rver.endpoint in message and "If-None-Match" in message and "If-Match" in message
    assert "MEDCAT_DEN_S3_SINGLE_WRITER" in message
    assert _objects(s3rver, bucket) == []  # nothing written, probe removed


def test_single_writer_mode_push_fetch_tag_delete_gc(s3rver: S3rver, tiny_pack: Path,
                                                     tmp_path: Path) -> None:
    bucket = s3rver.new_bucket()
    den = Den(S3Backend(f"s3://{bucket}/den", endpoint_url=s3rver.endpoint, single_writer=True))
    a = den.push_model(str(tiny_pack), "first", name="tiny")
    b = den.push_model(str(variant(tiny_pack, tmp_path, 0)), "second", name="tiny")
    assert (a.version, b.version) == (1, 2)
    out = den.fetch_pack("den://tiny/1", str(tmp_path / "out"))
    assert (Path(out) / "cdb").is_dir()
    den.tag("den://tiny/1", "prod")
    fresh = Den(S3Backend(f"s3://{bucket}/den", endpoint_url=s3rver.endpoint,
                          single_writer=True))
    assert fresh.resolve("den://tiny@prod") == a.model_id
    assert fresh.resolve("den://tiny") == b.model_id
    only_b = {e.blob: e.size for e in den.manifest(b.model_id).files.values()}
    for e in den.manifest(a.model_id).files.values():
        only_b.pop(e.blob, None)
    den.delete("den://tiny/2")
    with pytest.raises(ModelNotFoundError):
        fresh.resolve("den://tiny/2")
    assert fresh.resolve("den://tiny") == a.model_id
    assert den.gc(grace_seconds=0) == sum(only_b.values()) > 0
    assert [m.model_id for m in fresh.list_available_models()] == [a.model_id]
    assert fresh.verify(a.model_id) == []
