"""Cheap distinct packs: copies of the tiny real pack with one extra file each."""

from __future__ import annotations

import shutil
from pathlib import Path


def variant(tiny_pack: Path, out: Path, i: int) -> Path:
    """A loadable pack whose substance differs from every other variant's."""
    folder = out / f"variant{i}"
    if not folder.exists():
        shutil.copytree(tiny_pack, folder)
        (folder / "notes").mkdir(exist_ok=True)
        (folder / "notes" / "variant.txt").write_text(f"variant {i}\n")
    return folder
