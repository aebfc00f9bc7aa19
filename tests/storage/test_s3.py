"""S3Backend against a real S3 API (moto's server on 127.0.0.1)."""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from medcat_den.errors import BackendError, ConfigError, KeyNotFoundError
from medcat_den.storage.backend import StoreBackend
from medcat_den.storage.s3 import S3Backend
from tests.helpers.s3 import FAKE_KEY_ID, FAKE_SECRET, S3Server

MiB = 1024 * 1024


def small_parts(url: str, **kw: object) -> S3Backend:
    return S3Backend(url, multipart_threshold=5 * MiB, part_size=5 * MiB, **kw)  # type: ignore[arg-type]


def test_objects_roundtrip(s3_url: str, tmp_path: Path) -> None:
    b = S3Backend(s3_url)
    assert b.put_bytes_if_absent("manifests/a.json", b"one") is True
    assert b.put_bytes_if_absent("manifests/a.json", b"two") is False
    assert b.get_bytes("manifests/a.json") == b"one"
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(1000))
    assert b.put_file_if_absent("blobs/sha256/ab/abc", str(src)) is True
    assert b.put_file_if_absent("blobs/sha256/ab/abc", str(src)) is False
    b.get_file("blobs/sha256/ab/abc", str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()
    assert b.exists("blobs/sha256/ab/abc") and not b.exists("blobs/sha256/ab/nope")
    assert sorted(b.list_keys("")) == ["blobs/sha256/ab/abc", "manifests/a.json"]
    assert list(b.list_keys("manifests/")) == ["manifests/a.json"]
    assert list(b.list_refs("")) == []
    b.delete("manifests/a.json")
    b.delete("manifests/a.json")  # missing: not an error
    with pytest.raises(KeyNotFoundError, match="manifests/a.json"):
        b.get_bytes("manifests/a.json")
    with pytest.raises(KeyNotFoundError):
        b.get_file("manifests/a.json", str(tmp_path / "gone.bin"))
    assert not (tmp_path / "gone.bin").exists()


def test_list_pages(s3_url: str, s3_server: S3Server) -> None:
    b = S3Backend(s3_url, list_page_size=5)
    for i in range(12):
        b.put_bytes_if_absent(f"manifests/{i:05d}.json", b"x")
    s3_server.reset_counts()
    assert sorted(b.list_keys("manifests/")) == [f"manifests/{i:05d}.json" for i in range(12)]
    assert s3_server.requests["ListObjects"] == 3


def test_ref_compare_and_swap(s3_url: str) -> None:
    b = S3Backend(s3_url)
    assert b.read_ref("names/m.json") is None
    assert b.write_ref("names/m.json", b"v1", None) is True
    assert b.write_ref("names/m.json", b"other", None) is False  # exists already
    data, tok1 = b.read_ref("names/m.json") or (b"", "")
    assert data == b"v1"
    assert b.write_ref("names/m.json", b"v2", tok1) is True
    assert b.write_ref("names/m.json", b"v3", tok1) is False  # stale token
    data, tok2 = b.read_ref("names/m.json") or (b"", "")
    assert data == b"v2"
    assert b.write_ref("names/m.json", None, tok1) is False  # stale delete changes nothing
    assert b.read_ref("names/m.json") is not None
    assert list(b.list_refs("names/")) == ["names/m.json"]
    assert not b.exists("names/m.json")  # refs are not objects
    assert b.write_ref("names/m.json", None, tok2) is True
    assert b.read_ref("names/m.json") is None
    assert b.write_ref("names/m.json", b"x", "\"deadbeef\"") is False  # no ref to match


def test_multipart_upload_and_download(s3_url: str, s3_server: S3Server, tmp_path: Path) -> None:
    b = small_parts(s3_url)
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(11 * MiB))
    s3_server.reset_counts()
    assert b.put_file_if_absent("blobs/sha256/bb/big", str(src)) is True
    assert s3_server.requests["UploadPart"] == 3
    assert s3_server.count("PutObject", "/objects/blobs/") == 0
    s3_server.reset_counts()
    assert b.put_file_if_absent("blobs/sha256/bb/big", str(src)) is False
    assert s3_server.requests["UploadPart"] == 0  # known blobs are not re-sent
    b.get_file("blobs/sha256/bb/big", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()


def hold_prechecks(b: StoreBackend, writers: int) -> None:
    """Make every writer's HEAD pre-check answer "absent" before any writer sends its write.

    Without this the first finished upload makes the others' HEAD return early and the
    conditional create itself is never raced.
    """
    if not isinstance(b, S3Backend):
        return
    barrier = threading.Barrier(writers, timeout=60)

    def after_head(http_response: Any, **_kw: Any) -> None:
        if http_response.status_code == 404:
            barrier.wait()

    b.client.meta.events.register("after-call.s3.HeadObject", after_head)


def race_conditional_create(b: StoreBackend, key: str, sources: list[Path],
                            use_bytes: bool = False) -> list[int]:
    """Writers put different bytes under one key at once; return the indices that "won".

    ``use_bytes``: writers use ``put_bytes_if_absent`` rather than ``put_file_if_absent``.
    Asserts what first-writer-wins means: the stored bytes are the one winner's.
    """
    hold_prechecks(b, len(sources))
    won: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(sources), timeout=60)

    def writer(i: int) -> None:
        try:
            data = sources[i].read_bytes() if use_bytes else b""
            start.wait()
            if use_bytes:
                created = b.put_bytes_if_absent(key, data)
            else:
                created = b.put_file_if_absent(key, str(sources[i]))
            if created:
                won.append(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(len(sources))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(won) == 1, f"{len(won)} writers won the create of {key}"
    assert b.get_bytes(key) == sources[won[0]].read_bytes()
    return won


def race_ref_cas(b: StoreBackend, key: str, writers: int) -> int:
    """Writers append to one ref by compare-and-swap, all reading the same state first.

    Asserts exactly one first attempt succeeds and no append is lost; returns the
    number of successful first attempts.
    """
    barrier = threading.Barrier(writers, timeout=60)
    first_wins: list[int] = []
    errors: list[BaseException] = []

    def appender(i: int) -> None:
        try:
            for attempt in range(200):
                cur = b.read_ref(key)
                data, tok = cur if cur else (b"", None)
                if attempt == 0:
                    barrier.wait()  # everyone read the same state
                if b.write_ref(key, data + f"{i},".encode(), tok):
                    if attempt == 0:
                        first_wins.append(i)
                    return
            raise AssertionError(f"writer {i} never got its append in")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=appender, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    final = (b.read_ref(key) or (b"", ""))[0].decode()
    assert sorted(int(x) for x in final.strip(",").split(",")) == list(range(writers)), final
    assert len(first_wins) == 1, f"{len(first_wins)} writers swapped the same state"
    return len(first_wins)


def distinct_sources(tmp_path: Path, n: int, size: int) -> list[Path]:
    out = []
    for i in range(n):
        src = tmp_path / f"src-{i}.bin"
        src.write_bytes(bytes([i]) * 16 + os.urandom(size - 16))
        out.append(src)
    return out


def test_racing_single_put_creates_have_exactly_one_winner(
    s3_url: str, s3_server: S3Server, tmp_path: Path
) -> None:
    b = S3Backend(s3_url)
    sources = distinct_sources(tmp_path, 8, 64 * 1024)
    s3_server.reset_counts()
    race_conditional_create(b, "blobs/sha256/aa/race", sources)
    # every writer passed the pre-check and sent its conditional PUT: the server decided
    assert s3_server.count("PutObject", "/objects/blobs/sha256/aa/race") == 8
    assert s3_server.count("CompleteMultipartUpload", "/objects/blobs/") == 0


def test_racing_multipart_creates_have_exactly_one_winner(
    s3_url: str, s3_server: S3Server, tmp_path: Path
) -> None:
    b = small_parts(s3_url)
    sources = distinct_sources(tmp_path, 6, 6 * MiB)  # 2 parts each
    s3_server.reset_counts()
    race_conditional_create(b, "blobs/sha256/bb/race", sources)
    assert s3_server.count("CompleteMultipartUpload", "/objects/blobs/sha256/bb/race") == 6
    assert s3_server.count("PutObject", "/objects/blobs/") == 0
    # the losers' uploads were aborted: no parts left to pay for
    uploads = b.client.list_multipart_uploads(Bucket=b.bucket).get("Uploads", [])
    assert uploads == []
    assert list(b.list_keys("blobs/")) == ["blobs/sha256/bb/race"]


def test_racing_ref_updates_lose_nothing(s3_url: str) -> None:
    race_ref_cas(S3Backend(s3_url), "names/list.json", 8)


def test_server_dies_mid_upload_nothing_visible_then_retry(
    s3_url: str, s3_server: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    b = small_parts(s3_url, max_attempts=3, backoff_base=0.05, connect_timeout=1, read_timeout=5)
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(11 * MiB))
    parts_seen = []

    def trip(op: str, environ: dict[str, object]) -> bool:
        if op == "UploadPart":
            parts_seen.append(op)
        return len(parts_seen) == 2

    s3_server.trip = trip
    try:
        with pytest.raises(BackendError) as err:
            b.put_file_if_absent("blobs/sha256/cc/big", str(src))
        assert "upload part 2" in str(err.value) and "s3://" in str(err.value)
    finally:
        s3_server.restart()
    assert not b.exists("blobs/sha256/cc/big")
    assert list(b.list_keys("")) == []
    assert b.put_file_if_absent("blobs/sha256/cc/big", str(src)) is True
    assert b.get_bytes("blobs/sha256/cc/big") == src.read_bytes()
    logs = caplog.text + str(err.value)
    assert FAKE_SECRET not in logs and FAKE_KEY_ID not in logs


def test_transient_failure_is_retried(s3_url: str, s3_server: S3Server) -> None:
    b = S3Backend(s3_url, max_attempts=6, backoff_base=0.2, connect_timeout=1)
    b.put_bytes_if_absent("manifests/x.json", b"payload")
    s3_server.trip = lambda op, env: op == "GetObject"
    stop = threading.Event()
    came_back = threading.Event()

    def come_back() -> None:  # bounded: gives up when the test is over or after 60 s
        deadline = time.monotonic() + 60
        while not s3_server.down and not stop.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        if s3_server.down:
            s3_server.restart()
            came_back.set()

    t = threading.Thread(target=come_back)
    t.start()
    try:
        assert b.get_bytes("manifests/x.json") == b"payload"
    finally:
        stop.set()
        t.join(timeout=90)
        s3_server.trip = None
    assert came_back.is_set()  # the fault did happen: the value came from a retry


def test_broken_download_resumes_where_it_stopped(s3_url: str, s3_server: S3Server,
                                                  tmp_path: Path) -> None:
    b = S3Backend(s3_url, backoff_base=0.01)
    data = os.urandom(3 * MiB)
    b.put_bytes_if_absent("blobs/sha256/dd/x", data)
    ranges: list[str] = []
    s3_server.cut = lambda op, env: op == "GetObject"

    def record_range(op: str, env: dict[str, Any]) -> bool:
        ranges.append(str(env.get("HTTP_RANGE", "")))
        return False  # observe only: never pull the plug

    s3_server.trip = record_range
    try:
        b.get_file("blobs/sha256/dd/x", str(tmp_path / "x"))
    finally:
        s3_server.trip = s3_server.cut = None
    assert (tmp_path / "x").read_bytes() == data
    assert ranges[0] == "" and ranges[-1].startswith("bytes=") and ranges[-1] != "bytes=0-"


def test_missing_bucket_is_a_clear_error(s3_server: S3Server) -> None:
    b = S3Backend("s3://no-such-bucket-here/den")
    with pytest.raises(BackendError, match="no-such-bucket-here"):
        b.put_bytes_if_absent("manifests/a.json", b"x")


def test_config_and_location(monkeypatch: pytest.MonkeyPatch, s3_server: S3Server) -> None:
    monkeypatch.setenv("MEDCAT_DEN_REMOTE_HOST", "s3://env-bucket/some/prefix/")
    b = S3Backend()
    assert (b.bucket, b.prefix) == ("env-bucket", "some/prefix")
    assert S3Backend.from_config({"bucket": "b2", "prefix": "p"}).bucket == "b2"
    monkeypatch.delenv("MEDCAT_DEN_REMOTE_HOST")
    with pytest.raises(ConfigError, match="MEDCAT_DEN_REMOTE_HOST"):
        S3Backend()
    with pytest.raises(ConfigError, match="s3://bucket/prefix"):
        S3Backend("http://bucket/prefix")
    with pytest.raises(ConfigError) as e1:
        S3Backend("s3://AKIAXX:hunter2secret@bucket/p")
    assert "hunter2secret" not in str(e1.value)
    with pytest.raises(ConfigError) as e2:
        S3Backend.from_config({"url": "s3://b/p", "aws_secret_access_key": "hunter2secret"})
    assert "aws_secret_access_key" in str(e2.value) and "hunter2secret" not in str(e2.value)
    with pytest.raises(ConfigError, match="nonsense"):
        S3Backend.from_config({"url": "s3://b/p", "nonsense": 1})


def test_credentials_never_in_logs_reprs_or_errors(
    s3_url: str, s3_server: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="medcat_den")
    caplog.set_level(logging.INFO)
    b = S3Backend(s3_url, max_attempts=2, backoff_base=0.01)
    b.put_bytes_if_absent("manifests/a.json", b"x")
    b.write_ref("names/a.json", b"x", None)
    texts = [repr(b), b.describe(), str(vars(b)), repr(pickle.loads(pickle.dumps(b)))]
    assert "s3://" in b.describe() and s3_server.endpoint in b.describe()
    s3_server.trip = lambda op, env: True
    try:
        with pytest.raises(BackendError) as err:
            b.get_bytes("manifests/a.json")
    finally:
        s3_server.restart()
    texts += [str(err.value), repr(err.value), caplog.text]
    assert "retry 1/1" in caplog.text  # the retry was logged ...
    for text in texts:  # ... and nothing anywhere names the credentials
        assert FAKE_SECRET not in text and FAKE_KEY_ID not in text
