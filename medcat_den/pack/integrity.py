"""Hashing and verification of stored bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from medcat_den.errors import IntegrityError

CHUNK = 4 * 1024 * 1024


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_files(items: Iterable[tuple[str, str, str]], model: str, workers: int = 4) -> None:
    """Verify ``(path, expected_sha256, pack_path)`` triples; raise IntegrityError on a mismatch.

    hashlib releases the GIL, so threads hash several blobs at once.
    """
    todo = list(items)

    def check(item: tuple[str, str, str]) -> tuple[str, str, str, str]:
        path, expected, rel = item
        return path, expected, rel, sha256_file(path)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo) or 1))) as pool:
        for _path, expected, rel, actual in pool.map(check, todo):
            if actual != expected:
                raise IntegrityError(
                    f"integrity check failed for model {model}: file {rel!r} should hash to "
                    f"{expected[:16]}… but hashes to {actual[:16]}…; nothing was loaded"
                )
