"""Reading pack folders and ``.zip`` archives without trusting them.

Rejected: entries that escape the target (``..``, absolute paths, drive
letters), symbolic/hard links and special files, odd names, and archives that
expand past ``max_bytes`` (checked on the bytes actually decompressed, not only
the sizes the archive claims).
"""

from __future__ import annotations

import os
import stat
import zipfile
import zlib

from medcat_den.errors import InvalidNameError, InvalidPackError, UnsafeArchiveError
from medcat_den.pack.names import validate_pack_path

DEFAULT_MAX_PACK_BYTES = 64 * 1024**3
DEFAULT_MAX_FILES = 100_000


def max_pack_bytes() -> int:
    raw = os.environ.get("MEDCAT_DEN_MAX_PACK_BYTES")
    if not raw:
        return DEFAULT_MAX_PACK_BYTES
    try:
        return int(raw)
    except ValueError:
        from medcat_den.errors import ConfigError

        raise ConfigError(f"MEDCAT_DEN_MAX_PACK_BYTES must be an integer, got {raw!r}") from None


def scan_pack_folder(folder: str, max_bytes: int | None = None) -> dict[str, int]:
    """Return ``{relative path: size}`` for every file of a pack folder, or raise."""
    limit = max_pack_bytes() if max_bytes is None else max_bytes
    folder = os.path.abspath(folder)
    if os.path.islink(folder) or not os.path.isdir(folder):
        raise InvalidPackError(f"{folder} is not a pack folder")
    files: dict[str, int] = {}
    total = 0
    for dirpath, dirs, names in os.walk(folder, followlinks=False):
        for d in dirs:
            if os.path.islink(os.path.join(dirpath, d)):
                raise UnsafeArchiveError(f"pack folder contains a link: {os.path.join(dirpath, d)}")
        for n in names:
            full = os.path.join(dirpath, n)
            st = os.lstat(full)
            rel = os.path.relpath(full, folder).replace(os.sep, "/")
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeArchiveError(f"pack folder contains a link: {rel!r}")
            if not stat.S_ISREG(st.st_mode):
                raise UnsafeArchiveError(f"pack folder contains a special file: {rel!r}")
            try:
                validate_pack_path(rel)
            except InvalidNameError as e:
                raise UnsafeArchiveError(str(e)) from e
            total += st.st_size
            if total > limit:
                raise UnsafeArchiveError(f"pack {folder} is larger than the limit of {limit} bytes")
            files[rel] = st.st_size
    if len(files) > DEFAULT_MAX_FILES:
        raise UnsafeArchiveError(f"pack {folder} has more than {DEFAULT_MAX_FILES} files")
    if not files:
        raise InvalidPackError(f"{folder} is empty, not a MedCAT pack")
    return files


def _check_member(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    mode = (info.external_attr >> 16) & 0xFFFF
    if stat.S_ISLNK(mode):
        raise UnsafeArchiveError(f"archive entry {name!r} is a link")
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise UnsafeArchiveError(f"archive entry {name!r} is a special file")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"archive entry {name!r} has an absolute path")
    if "\\" in name or any(p == ".." for p in name.split("/")):
        raise UnsafeArchiveError(f"archive entry {name!r} escapes the target folder")
    if info.is_dir():
        return None
    rel = name.strip("/")
    try:
        validate_pack_path(rel)
    except InvalidNameError as e:
        raise UnsafeArchiveError(f"archive entry {name!r}: {e}") from e
    return rel


def extract_zip_safely(zip_path: str, dest: str, max_bytes: int | None = None) -> str:
    """Extract a pack archive into ``dest`` (which must be empty); return the pack folder."""
    limit = max_pack_bytes() if max_bytes is None else max_bytes
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidPackError(f"{zip_path} is not a readable zip archive: {e}") from e
    with zf:
        infos = zf.infolist()
        if len(infos) > DEFAULT_MAX_FILES:
            raise UnsafeArchiveError(f"archive {zip_path} has more than {DEFAULT_MAX_FILES} entries")
        members = [(info, _check_member(info)) for info in infos]
        if sum(i.file_size for i, rel in members if rel) > limit:
            raise UnsafeArchiveError(f"archive {zip_path} expands past the limit of {limit} bytes")
        written = 0
        for info, rel in members:
            if rel is None:
                continue
            target = os.path.join(dest, *rel.split("/"))
            if not os.path.abspath(target).startswith(os.path.abspath(dest) + os.sep):
                raise UnsafeArchiveError(f"archive entry {info.filename!r} escapes the target")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "xb") as out:
                    while chunk := src.read(1024 * 1024):
                        written += len(chunk)
                        if written > limit:
                            raise UnsafeArchiveError(
                                f"archive {zip_path} expands past the limit of {limit} bytes"
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError) as e:
                raise InvalidPackError(f"archive {zip_path} is corrupt at {rel!r}: {e}") from e
    return _pack_root(dest)


def _pack_root(folder: str) -> str:
    """A MedCAT zip holds the pack at its top level, or inside one folder."""
    entries = [e for e in os.listdir(folder) if not e.startswith("__MACOSX")]
    if len(entries) == 1 and os.path.isdir(os.path.join(folder, entries[0])):
        inner = os.path.join(folder, entries[0])
        if not os.path.exists(os.path.join(folder, ".schema.json")):
            return inner
    return folder
