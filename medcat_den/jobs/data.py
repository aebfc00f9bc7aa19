"""Where a training job's data comes from.

Accepted forms (``train_data`` / ``eval_data``): an in-memory MedCATtrainer export
(dict), a JSON file path, ``s3://bucket/key`` (read with boto3 and the standard AWS
credential chain / ``AWS_ENDPOINT_URL``), or ``den-data://<key>``: an object stored in
the job's den backend (e.g. ``den-data://datasets/ncbi/train.json``; see
:func:`put_dataset`). The data is validated before anything is loaded, and its
fingerprint (sha256 of the canonical JSON) is recorded with the trained model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from medcat_den.den import Den
from medcat_den.errors import BackendError, DenError, TrainingError
from medcat_den.training import fingerprint, load_export, parse_export, validate_export

DEN_DATA_SCHEME = "den-data://"
DataSource = dict[str, Any] | str | os.PathLike[str]


def describe_source(source: DataSource | None) -> str | None:
    """A short, credential-free description of where data came from."""
    if source is None:
        return None
    if isinstance(source, dict):
        return "in-memory export"
    text = os.fspath(source)
    if text.startswith("s3://"):
        parts = urlsplit(text)
        return f"s3://{parts.hostname}{parts.path}"
    return text


def _read_s3(url: str) -> bytes:
    parts = urlsplit(url)
    if not parts.hostname or not parts.path.strip("/"):
        raise TrainingError(f"invalid S3 data location {describe_source(url)!r}: "
                            "expected s3://bucket/key")
    try:
        import boto3
    except ImportError:  # pragma: no cover - boto3 is an optional dependency
        raise TrainingError("reading training data from S3 needs boto3 "
                            "(pip install medcat_den[s3])") from None
    try:
        obj = boto3.client("s3").get_object(Bucket=parts.hostname, Key=parts.path.lstrip("/"))
        return bytes(obj["Body"].read())
    except Exception as err:  # botocore raises many types; name the object, not secrets
        code = getattr(err, "response", {}).get("Error", {}).get("Code")
        raise TrainingError(f"cannot read training data {describe_source(url)}: "
                            f"{code or type(err).__name__}") from None


def resolve_data(source: DataSource, den: Den | None, what: str) -> dict[str, Any]:
    """Load and validate the export named by ``source``."""
    label = f"{what} ({describe_source(source)})"
    if isinstance(source, dict):
        export = source
    elif not isinstance(source, (str, os.PathLike)):
        raise TrainingError(f"{what}: expected an export dict, a path or an s3:// / "
                            f"{DEN_DATA_SCHEME} location, got {type(source).__name__}")
    else:
        text = os.fspath(source)
        if text.startswith("s3://"):
            export = parse_export(_read_s3(text), label)
        elif text.startswith(DEN_DATA_SCHEME):
            if den is None:
                raise TrainingError(f"{label}: no den configured to read it from")
            key = text[len(DEN_DATA_SCHEME):]
            try:
                raw = den.backend.get_bytes(key)
            except DenError as err:
                raise TrainingError(f"{label}: {err}") from None
            export = parse_export(raw, label)
        else:
            export = load_export(Path(text))
    validate_export(export, label)
    return export


def put_dataset(den: Den, key: str, path: str | os.PathLike[str]) -> str:
    """Store a JSON export in the den backend; return its ``den-data://`` location."""
    data = Path(path).read_bytes()
    validate_export(parse_export(data, str(path)), str(path))
    try:
        den.backend.put_bytes_if_absent(key, data)
    except DenError:
        raise
    except OSError as err:
        raise BackendError(f"cannot store dataset {key}: {err}") from None
    return DEN_DATA_SCHEME + key


def data_ref(den: Den, source: DataSource, what: str) -> str:
    """A location every node can read: ``s3://`` / ``den-data://`` as given; an export or
    a local file is validated and stored once in the den, keyed by its fingerprint."""
    if isinstance(source, str) and (source.startswith("s3://")
                                    or source.startswith(DEN_DATA_SCHEME)):
        return source
    if not isinstance(source, (dict, str, os.PathLike)):
        raise TrainingError(f"{what}: expected an export dict, a path or an s3:// / "
                            f"{DEN_DATA_SCHEME} location, got {type(source).__name__}")
    export = load_export(source)
    validate_export(export, what)
    key = f"datasets/sha256/{fingerprint(export)}.json"
    raw = json.dumps(export, sort_keys=True, separators=(",", ":"),
                     ensure_ascii=False).encode("utf-8")
    if not den.backend.exists(key):
        den.backend.put_bytes_if_absent(key, raw)
    return DEN_DATA_SCHEME + key
