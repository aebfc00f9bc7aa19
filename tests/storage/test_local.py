"""LocalFolderBackend: racing writers of one object (first complete writer wins, ``os.link``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from medcat_den.storage import fsutil
from medcat_den.storage.local import LocalFolderBackend
from tests.storage.test_s3 import distinct_sources, race_conditional_create


@contextmanager
def held_at_publish(writers: int) -> Iterator[list[str]]:
    """Hold every writer at the atomic publish step until all of them have reached it.

    ``put_*_if_absent`` first checks whether the object exists; without this hold the first
    published object makes the others return at that check and the atomic step itself is
    never raced. Yields the targets the publish step was called with.
    """
    barrier = threading.Barrier(writers, timeout=60)
    reached: list[str] = []
    original = fsutil.publish_if_absent  # (the meta-test's switch may have replaced it)

    def held(tmp_path: str, final_path: str) -> bool:
        reached.append(final_path)
        barrier.wait()
        return original(tmp_path, final_path)

    fsutil.publish_if_absent = held
    try:
        yield reached
    finally:
        fsutil.publish_if_absent = original


def race_local_create(root: Path, sources_dir: Path, writers: int, use_bytes: bool = False) -> None:
    """``writers`` threads create one blob with different bytes, all past the pre-check."""
    b = LocalFolderBackend(str(root))
    key = "blobs/sha256/aa/race"
    sources = distinct_sources(sources_dir, writers, 64 * 1024)
    with held_at_publish(writers) as reached:
        race_conditional_create(b, key, sources, use_bytes=use_bytes)
    # every writer missed the pre-check and tried the atomic step: the filesystem decided
    assert len(reached) == writers, f"{len(reached)} of {writers} writers reached the publish step"
    assert list(b.list_keys("")) == [key]
    assert os.listdir(b.scratch) == []  # the losers' temp files are gone


@pytest.mark.parametrize("use_bytes", [False, True], ids=["file", "bytes"])
def test_racing_local_creates_have_exactly_one_winner(tmp_path: Path, use_bytes: bool) -> None:
    race_local_create(tmp_path / "den", tmp_path, 8, use_bytes=use_bytes)
