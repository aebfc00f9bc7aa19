"""Crash-safe file primitives: temp file -> fsync -> link/rename."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from typing import BinaryIO

CHUNK = 4 * 1024 * 1024


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_name(tmp_dir: str, hint: str = "") -> str:
    os.makedirs(tmp_dir, exist_ok=True)
    return os.path.join(tmp_dir, f".tmp-{os.getpid()}-{uuid.uuid4().hex}{hint}")


def write_temp(tmp_dir: str, fill: Callable[[BinaryIO], object], mode: int = 0o644) -> str:
    """Create a temp file in ``tmp_dir``, let ``fill`` write it, fsync; return its path."""
    path = temp_name(tmp_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    os.chmod(path, mode)
    return path


def copy_into(src_path: str) -> Callable[[BinaryIO], None]:
    def fill(f: BinaryIO) -> None:
        with open(src_path, "rb") as src:
            shutil.copyfileobj(src, f, CHUNK)

    return fill


def publish_if_absent(tmp_path: str, final_path: str) -> bool:
    """Atomically make ``tmp_path`` visible as ``final_path`` unless it exists.

    ``os.link`` fails if the target exists, so two writers cannot both win and a
    reader never sees a partial file. The temp file is always removed.
    """
    os.makedirs(os.path.dirname(final_path), exist_ok=True)
    try:
        os.link(tmp_path, final_path)
        written = True
    except FileExistsError:
        written = False
    finally:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
    if written:
        fsync_dir(os.path.dirname(final_path))
    return written


def replace_atomically(tmp_path: str, final_path: str) -> None:
    os.makedirs(os.path.dirname(final_path), exist_ok=True)
    os.replace(tmp_path, final_path)
    fsync_dir(os.path.dirname(final_path))
