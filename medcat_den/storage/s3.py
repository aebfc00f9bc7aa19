"""``S3Backend``: a den in S3-compatible object storage (AWS S3, MinIO, Ceph, GCS's S3 API).

Config keys (all optional; the environment fills what is missing):
    url (str): ``s3://bucket/prefix``; default ``MEDCAT_DEN_REMOTE_HOST``.
    bucket (str), prefix (str): instead of ``url``.
    endpoint_url (str): default: botocore's standard ``AWS_ENDPOINT_URL`` /
        ``AWS_ENDPOINT_URL_S3`` handling (unset: AWS itself).
    region_name (str), profile_name (str): passed to the boto3 session.
    addressing_style (str): ``auto`` (default), ``path`` or ``virtual``.
    multipart_threshold (int): bytes from which uploads are multipart (default 64 MiB).
    part_size (int): multipart part size in bytes (default 16 MiB, at least 5 MiB on AWS).
    max_attempts (int): attempts per request on transient errors (default 5).
    backoff_base (float): first retry delay in seconds, doubled per attempt (default 0.25).
    connect_timeout (float), read_timeout (float): seconds (defaults 10 and 60).
    list_page_size (int): keys per list request (default 1000, S3's maximum).
    single_writer (bool): accept an endpoint that ignores conditional writes, on the
        promise that only one process ever writes to this den (default
        ``MEDCAT_DEN_S3_SINGLE_WRITER``, else false). See "Know the server" below.

Credentials come only from the standard AWS chain (environment, shared files,
SSO, instance roles); passing keys here is refused, and nothing this class
logs, raises or describes contains them.

Layout under ``prefix``: ``objects/<key>`` (created with ``If-None-Match: *``,
so the first complete writer wins and nobody sees a partial object) and
``refs/<key>`` (moved by compare-and-swap on the ETag with ``If-Match`` /
``If-None-Match: *``). Large objects are uploaded in parts and completed with
``If-None-Match: *``; an interrupted upload is aborted and leaves nothing
visible.

Know the server: before its first write, the backend probes (on a scratch key
under ``objects/tmp/``) that the endpoint refuses a second ``If-None-Match: *``
create and a ``If-Match`` with a wrong ETag. An endpoint that accepts either
(s3rver, some S3 gateways) would let concurrent pushers overwrite each other's
catalog entries, so it is refused with :class:`UnsafeBackendError` naming the
endpoint and the missing guarantee, unless ``single_writer`` is set.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tqdm.auto import tqdm

from medcat_den.errors import BackendError, ConfigError, KeyNotFoundError, UnsafeBackendError
from medcat_den.storage.backend import ObjectInfo, StoreBackend, validate_key
from medcat_den.storage.fault_injection import counts_write

logger = logging.getLogger(__name__)

T = TypeVar("T")

MiB = 1024 * 1024
ENV_REMOTE_HOST = "MEDCAT_DEN_REMOTE_HOST"
ENV_SINGLE_WRITER = "MEDCAT_DEN_S3_SINGLE_WRITER"
GUARANTEE_CREATE = "conditional create (PUT with If-None-Match: * must fail when the key exists)"
GUARANTEE_CAS = "compare-and-swap (PUT with If-Match must fail when the ETag differs)"
# endpoint -> missing guarantees (a property of the server), probed once per process
_PROBED: dict[str, list[str]] = {}
_PROBE_LOCK = threading.Lock()
_CREDENTIAL_KEYS = frozenset({
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
    "access_key", "secret_key", "secret", "token", "password", "credentials",
})
_TRANSIENT_CODES = frozenset({
    "500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown",
    "RequestTimeout", "RequestTimeoutException", "Throttling", "ThrottlingException",
    "RequestLimitExceeded", "BadGateway", "GatewayTimeout",
})
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_PROGRESS_MIN_BYTES = 8 * MiB


def parse_s3_url(url: str) -> tuple[str, str]:
    """Split ``s3://bucket/prefix`` into ``(bucket, prefix)`` (no slashes at the prefix's ends)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"invalid S3 den location {_redact_url(url)!r}: expected s3://bucket/prefix")
    if "@" in parts.netloc:
        raise ConfigError(
            "S3 den location must not contain credentials; use the AWS credential chain")
    return parts.netloc, parts.path.strip("/")


def _redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` part removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class _ProbeRefused(Exception):
    """The server answered a probe write with an error other than a failed precondition."""


class S3Backend(StoreBackend):
    """Objects and compare-and-swap refs in an S3 bucket under a prefix."""

    is_local = False

    def __init__(
        self,
        url: str | None = None,
        *,
        bucket: str | None = None,
        prefix: str | None = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        profile_name: str | None = None,
        addressing_style: str = "auto",
        multipart_threshold: int = 64 * MiB,
        part_size: int = 16 * MiB,
        max_attempts: int = 5,
        backoff_base: float = 0.25,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        list_page_size: int = 1000,
        single_writer: bool | None = None,
    ) -> None:
        if url is None and bucket is None:
            url = os.environ.get(ENV_REMOTE_HOST) or None
        if url is not None:
            if bucket is not None:
                raise ConfigError("give either url or bucket/prefix for the S3 den, not both")
            bucket, url_prefix = parse_s3_url(url)
            prefix = url_prefix if prefix is None else prefix
        if not bucket:
            raise ConfigError(
                f"no S3 bucket configured: set {ENV_REMOTE_HOST}=s3://bucket/prefix "
                "or the backend config key 'url'"
            )
        if addressing_style not in ("auto", "path", "virtual"):
            raise ConfigError(
                f"invalid addressing_style {addressing_style!r}: auto, path or virtual")
        if part_size < 5 * MiB or multipart_threshold < part_size:
            raise ConfigError("part_size must be >= 5 MiB and multipart_threshold >= part_size")
        if max_attempts < 1:
            raise ConfigError("max_attempts must be >= 1")
        self.bucket = bucket
        self.prefix = (prefix or "").strip("/")
        self._endpoint_url = endpoint_url
        self._region_name = region_name
        self._profile_name = profile_name
        self._addressing_style = addressing_style
        self.multipart_threshold = int(multipart_threshold)
        self.part_size = int(part_size)
        self.max_attempts = int(max_attempts)
        self.backoff_base = float(backoff_base)
        self._timeouts = (float(connect_timeout), float(read_timeout))
        self.list_page_size = max(1, min(1000, int(list_page_size)))
        if single_writer is None:
            single_writer = os.environ.get(ENV_SINGLE_WRITER, "").strip().lower() in (
                "1", "true", "yes", "on")
        self.single_writer = bool(single_writer)
        self._checked = False
        self._client_lock = threading.Lock()
        self._client: Any = None
        self._client_pid = -1

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> S3Backend:
        """Build from a config mapping, refusing credential keys without echoing their values."""
        cfg = dict(config or {})
        bad = sorted(k for k in cfg if k.lower() in _CREDENTIAL_KEYS)
        if bad:
            raise ConfigError(
                f"S3 backend config must not contain credentials ({', '.join(bad)}): "
                "use the standard AWS chain (environment, ~/.aws, SSO, instance role)"
            )
        try:
            return cls(**cfg)
        except TypeError as e:
            raise ConfigError(f"invalid S3 backend config keys {sorted(cfg)}: {e}") from None

    # --- client ------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The boto3 S3 client (one per process: clients must not cross a fork)."""
        pid = os.getpid()
        if self._client is None or self._client_pid != pid:
            with self._client_lock:
                if self._client is None or self._client_pid != pid:
                    self._client = self._make_client()
                    self._client_pid = pid
        return self._client

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ConfigError("the S3 den type needs boto3: pip install 'medcat_den[s3]'"
                              ) from None

        session = boto3.session.Session(profile_name=self._profile_name,
                                        region_name=self._region_name)
        config = Config(
            retries={"mode": "standard", "total_max_attempts": 1},  # we retry ourselves
            connect_timeout=self._timeouts[0],
            read_timeout=self._timeouts[1],
            s3={"addressing_style": self._addressing_style},
            max_pool_connections=32,
        )
        kwargs: dict[str, Any] = {"config": config}
        if self._endpoint_url:
            kwargs["endpoint_url"] = self._endpoint_url
        if session.region_name is None:
            kwargs["region_name"] = "us-east-1"
        return session.client("s3", **kwargs)

    # --- helpers -------------------------------------------------------------------
    def _full(self, kind: str, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{kind}/{key}" if self.prefix else f"{kind}/{key}"

    def _root(self, kind: str) -> str:
        return f"{self.prefix}/{kind}/" if self.prefix else f"{kind}/"

    def _where(self, full_key: str) -> str:
        return f"s3://{self.bucket}/{full_key}"

    @staticmethod
    def _code(e: BaseException) -> str:
        from botocore.exceptions import ClientError

        if isinstance(e, ClientError):
            err = e.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            return code or status
        return ""

    @classmethod
    def _status(cls, e: BaseException) -> str:
        from botocore.exceptions import ClientError

        if isinstance(e, ClientError):
            return str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return ""

    def _is_transient(self, e: BaseException) -> bool:
        from botocore.exceptions import (
            ClientError,
            ConnectionError,
            HTTPClientError,
            IncompleteReadError,
            ResponseStreamingError,
        )

        if isinstance(e, (ConnectionError, HTTPClientError, IncompleteReadError,
                          ResponseStreamingError)):
            return True
        if isinstance(e, ClientError):
            return self._code(e) in _TRANSIENT_CODES or self._status(e) in _TRANSIENT_CODES
        return False

    def _is(self, e: BaseException, codes: frozenset[str]) -> bool:
        return self._code(e) in codes or self._status(e) in codes

    def _error(self, op: str, full_key: str, e: BaseException) -> BackendError:
        from botocore.exceptions import ClientError, NoCredentialsError

        if isinstance(e, NoCredentialsError):
            return BackendError(
                f"S3 {op} on {self._where(full_key)} failed: no AWS credentials found in the "
                "standard chain (environment, ~/.aws, SSO, instance role)"
            )
        if isinstance(e, ClientError):
            detail = f"{self._code(e)} (HTTP {self._status(e)})"
        else:
            detail = type(e).__name__
        return BackendError(
            f"S3 {op} on {self._where(full_key)} at {self._endpoint_desc()} failed: {detail}"
        )

    def _call(self, op: str, full_key: str, fn: Callable[[], T],
              passthrough: frozenset[str] = frozenset()) -> tuple[T, int]:
        """Run ``fn`` with bounded retries and exponential backoff on transient errors.

        Returns ``(result, attempts_used)``. Client errors whose code is in
        ``passthrough`` are re-raised as-is for the caller to interpret.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(1, self.max_attempts + 1):
            try:
                return fn(), attempt
            except (BotoCoreError, ClientError) as e:
                if isinstance(e, ClientError) and self._is(e, passthrough):
                    raise
                if not self._is_transient(e) or attempt == self.max_attempts:
                    raise self._error(op, full_key, e) from None
                delay = min(self.backoff_base * 2 ** (attempt - 1), 10.0)
                delay *= 0.5 + random.random()
                logger.warning("S3 %s on %s: %s (code %s, HTTP %s); retry %d/%d in %.2fs", op,
                               self._where(full_key), type(e).__name__, self._code(e) or "-",
                               self._status(e) or "-", attempt, self.max_attempts - 1, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _progress(self, total: int, desc: str) -> tqdm[Any]:
        return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                    disable=True if total < _PROGRESS_MIN_BYTES else None, leave=False)

    # --- immutable objects --------------------------------------------------------
    def get_bytes(self, key: str) -> bytes:
        full = self._full("objects", key)

        def get() -> bytes:
            resp = self.client.get_object(Bucket=self.bucket, Key=full)
            data: bytes = resp["Body"].read()
            return data

        try:
            return self._call("get", full, get, _MISSING_CODES)[0]
        except Exception as e:
            if self._is(e, _MISSING_CODES):
                raise KeyNotFoundError(f"{key} not found in {self.describe()}") from None
            raise

    def get_file(self, key: str, dest_path: str) -> None:
        """Stream the object to ``dest_path``; a broken stream resumes with a Range request."""
        full = self._full("objects", key)
        written = 0
        total: int | None = None
        bar: tqdm[Any] | None = None
        try:
            with open(dest_path, "wb") as out:

                def fetch_rest() -> None:
                    nonlocal written, total, bar
                    kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
                    if written:
                        kwargs["Range"] = f"bytes={written}-"
                    resp = self.client.get_object(**kwargs)
                    if total is None:
                        total = int(resp.get("ContentLength", 0))
                        bar = self._progress(total, f"download {key.rsplit('/', 1)[-1][:12]}")
                    for chunk in resp["Body"].iter_chunks(MiB):
                        out.write(chunk)
                        written += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))

                self._call("get", full, fetch_rest, _MISSING_CODES)
                out.flush()
                os.fsync(out.fileno())
            if total is not None and written != total:
                raise BackendError(
                    f"S3 get of {self._where(full)} returned {written} of {total} bytes"
                )
        except BaseException as e:
            try:
                os.unlink(dest_path)
            except OSError:
                pass
            if isinstance(e, Exception) and self._is(e, _MISSING_CODES):
                raise KeyNotFoundError(f"{key} not found in {self.describe()}") from None
            raise
        finally:
            if bar is not None:
                bar.close()

    def exists(self, key: str) -> bool:
        return self._head(self._full("objects", key)) is not None

    def _head(self, full: str) -> dict[str, Any] | None:
        def head() -> dict[str, Any]:
            resp: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=full)
            return resp

        try:
            return self._call("head", full, head, _MISSING_CODES)[0]
        except Exception as e:
            if self._is(e, _MISSING_CODES):
                return None
            raise

    @counts_write
    def put_bytes_if_absent(self, key: str, data: bytes) -> bool:
        full = self._full("objects", key)
        if self._head(full) is not None:
            return False
        return self._put_if_absent(full, data)

    def _put_if_absent(self, full: str, data: bytes) -> bool:
        self.ensure_safe()

        def put() -> None:
            self.client.put_object(Bucket=self.bucket, Key=full, Body=data, IfNoneMatch="*")

        try:
            self._call("put", full, put, _PRECONDITION_CODES)
            return True
        except Exception as e:
            if self._is(e, _PRECONDITION_CODES):
                return False
            raise

    @counts_write
    def put_file_if_absent(self, key: str, src_path: str) -> bool:
        full = self._full("objects", key)
        if self._head(full) is not None:
            return False
        size = os.path.getsize(src_path)
        if size < self.multipart_threshold:
            with open(src_path, "rb") as f:
                data = f.read()
            bar = self._progress(size, f"upload {key.rsplit('/', 1)[-1][:12]}")
            try:
                written = self._put_if_absent(full, data)
                bar.update(size)
            finally:
                bar.close()
            return written
        return self._multipart_upload(full, key, src_path, size)

    def _multipart_upload(self, full: str, key: str, src_path: str, size: int) -> bool:
        """Upload in parts; complete with ``If-None-Match: *``; abort on any failure."""
        self.ensure_safe()
        created, _ = self._call("create multipart upload", full, lambda: self.client
                                .create_multipart_upload(Bucket=self.bucket, Key=full))
        upload_id = created["UploadId"]
        parts: list[dict[str, Any]] = []
        bar = self._progress(size, f"upload {key.rsplit('/', 1)[-1][:12]}")
        try:
            with open(src_path, "rb") as f:
                number = 0
                while chunk := f.read(self.part_size):
                    number += 1

                    def upload(body: bytes = chunk, n: int = number) -> dict[str, Any]:
                        resp: dict[str, Any] = self.client.upload_part(
                            Bucket=self.bucket, Key=full, UploadId=upload_id, PartNumber=n,
                            Body=body)
                        return resp

                    resp, _ = self._call(f"upload part {number}", full, upload)
                    parts.append({"ETag": resp["ETag"], "PartNumber": number})
                    bar.update(len(chunk))

            def complete() -> None:
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=full, UploadId=upload_id,
                    MultipartUpload={"Parts": parts}, IfNoneMatch="*")

            try:
                self._call("complete multipart upload", full, complete,
                           _PRECONDITION_CODES | _MISSING_CODES | frozenset({"NoSuchUpload"}))
                return True
            except Exception as e:
                if self._is(e, _PRECONDITION_CODES):
                    self._abort(full, upload_id)
                    return False
                if self._is(e, _MISSING_CODES | frozenset({"NoSuchUpload"})):
                    # a retried complete whose first attempt succeeded: the upload is gone
                    if self._head(full) is not None:
                        return True
                raise self._error("complete multipart upload", full, e) from None
        except BaseException:
            self._abort(full, upload_id)
            raise
        finally:
            bar.close()

    def _abort(self, full: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
        except Exception as e:  # best effort: the server may be the thing that failed
            logger.warning("could not abort multipart upload of %s (%s); a bucket lifecycle rule "
                           "for incomplete uploads cleans it up", self._where(full),
                           type(e).__name__)

    def _list_info(self, kind: str, prefix: str,
                   start_after: str | None = None) -> Iterator[ObjectInfo]:
        root = self._root(kind)
        full_prefix = root + prefix
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": full_prefix,
                                      "MaxKeys": self.list_page_size}
            if token:
                kwargs["ContinuationToken"] = token
            elif start_after is not None:
                kwargs["StartAfter"] = root + start_after

            def page(kw: dict[str, Any] = kwargs) -> dict[str, Any]:
                resp: dict[str, Any] = self.client.list_objects_v2(**kw)
                return resp

            resp, _ = self._call("list", full_prefix, page)
            for obj in resp.get("Contents", []):
                modified = obj.get("LastModified")
                yield ObjectInfo(obj["Key"][len(root):], int(obj.get("Size", 0)),
                                 modified.timestamp() if modified is not None else None)
            if not resp.get("IsTruncated"):
                return
            token = resp.get("NextContinuationToken")

    def list_keys(self, prefix: str) -> Iterator[str]:
        return (info.key for info in self._list_info("objects", prefix))

    def list_entries(self, prefix: str, start_after: str | None = None) -> Iterator[ObjectInfo]:
        return self._list_info("objects", prefix, start_after)

    # --- write guarantees ---------------------------------------------------------------
    def check_guarantees(self) -> list[str]:
        """Probe (once per process and endpoint) conditional create and CAS on a scratch key."""
        where = self._endpoint_desc()
        with _PROBE_LOCK:
            if where not in _PROBED:
                _PROBED[where] = self._probe()
            return list(_PROBED[where])

    def ensure_safe(self) -> None:
        """Raise UnsafeBackendError before the first write to a non-conforming endpoint."""
        if self._checked:
            return
        missing = self.check_guarantees()
        if missing and not self.single_writer:
            raise UnsafeBackendError(
                f"the S3 endpoint {self._endpoint_desc()} (den s3://{self.bucket}/{self.prefix}) "
                f"does not honour {' nor '.join(missing)}; concurrent writers would silently "
                "lose versions, so nothing was written. Use a server that supports conditional "
                f"writes, or, if only one process ever writes to this den, set {ENV_SINGLE_WRITER}"
                "=1 (config key single_writer: true)")
        if missing:
            logger.warning("S3 endpoint %s lacks %s; single-writer mode: only one process may "
                           "write to %s", self._endpoint_desc(), "; ".join(missing),
                           self.describe())
        self._checked = True

    def _probe(self) -> list[str]:
        import uuid

        from botocore.exceptions import ClientError

        full = self._full("objects", f"tmp/probe-{uuid.uuid4().hex}")
        missing: list[str] = []

        def put(**cond: str) -> bool:
            """True if the server accepted the write, False if it refused the condition."""
            try:
                self._call("probe put", full, lambda: self.client.put_object(
                    Bucket=self.bucket, Key=full, Body=b"probe", **cond), _PRECONDITION_CODES
                    | frozenset({"NotImplemented", "501", "400", "InvalidArgument"}))
                return True
            except ClientError as e:
                if self._is(e, _PRECONDITION_CODES):
                    return False
                raise _ProbeRefused(f"{self._code(e)} (HTTP {self._status(e)})") from None

        try:
            try:
                put(IfNoneMatch="*")
            except _ProbeRefused as e:
                return [f"{GUARANTEE_CREATE} [the server rejects the header: {e}]",
                        GUARANTEE_CAS]
            try:
                if put(IfNoneMatch="*"):
                    missing.append(GUARANTEE_CREATE)
            except _ProbeRefused as e:
                missing.append(f"{GUARANTEE_CREATE} [{e}]")
            try:
                if put(IfMatch='"00000000000000000000000000000000"'):
                    missing.append(GUARANTEE_CAS)
            except _ProbeRefused as e:
                missing.append(f"{GUARANTEE_CAS} [{e}]")
        finally:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=full)
            except Exception as e:  # noqa: BLE001 - a leftover probe object is harmless
                logger.warning("could not delete probe object %s (%s)", self._where(full),
                               type(e).__name__)
        return missing

    @counts_write
    def delete(self, key: str) -> None:
        full = self._full("objects", key)
        self._call("delete", full, lambda: self.client.delete_object(Bucket=self.bucket, Key=full))

    # --- refs -------------------------------------------------------------------------
    def read_ref(self, key: str) -> tuple[bytes, str] | None:
        full = self._full("refs", key)

        def get() -> tuple[bytes, str]:
            resp = self.client.get_object(Bucket=self.bucket, Key=full)
            return resp["Body"].read(), str(resp["ETag"])

        try:
            return self._call("read ref", full, get, _MISSING_CODES)[0]
        except Exception as e:
            if self._is(e, _MISSING_CODES):
                return None
            raise

    @counts_write
    def write_ref(self, key: str, data: bytes | None, expected_token: str | None) -> bool:
        self.ensure_safe()
        full = self._full("refs", key)
        conflict = _PRECONDITION_CODES | _MISSING_CODES
        if data is None:
            if expected_token is None:
                return self.read_ref(key) is None

            tries = 0

            def delete() -> None:
                nonlocal tries
                tries += 1
                self.client.delete_object(Bucket=self.bucket, Key=full, IfMatch=expected_token)

            try:
                self._call("delete ref", full, delete, conflict)
                return True
            except Exception as e:
                if not self._is(e, conflict):
                    raise
                # a retried delete whose lost first attempt succeeded finds nothing: ours
                return tries > 1 and self._is(e, _MISSING_CODES)
        payload = data
        tries = 0

        def put() -> None:
            nonlocal tries
            tries += 1
            if expected_token is None:
                self.client.put_object(Bucket=self.bucket, Key=full, Body=payload,
                                       IfNoneMatch="*")
            else:
                self.client.put_object(Bucket=self.bucket, Key=full, Body=payload,
                                       IfMatch=expected_token)

        try:
            self._call("write ref", full, put, conflict)
            return True
        except Exception as e:
            if not self._is(e, conflict):
                raise
            if tries > 1:
                # the first attempt may have succeeded with its response lost
                current = self.read_ref(key)
                return current is not None and current[0] == payload
            return False

    def list_refs(self, prefix: str) -> Iterator[str]:
        return (info.key for info in self._list_info("refs", prefix))

    # --- description ----------------------------------------------------------------------
    def _endpoint_desc(self) -> str:
        endpoint = self._endpoint_url
        if endpoint is None and self._client is not None:
            endpoint = getattr(self._client.meta, "endpoint_url", None)
        if endpoint is None:
            endpoint = (os.environ.get("AWS_ENDPOINT_URL_S3")
                        or os.environ.get("AWS_ENDPOINT_URL") or "aws")
        return _redact_url(endpoint)

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        return f"S3Backend({where} at {self._endpoint_desc()})"

    def __repr__(self) -> str:
        return self.describe()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_client"] = None
        state["_client_pid"] = -1
        state["_checked"] = False
        del state["_client_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client_lock = threading.Lock()
