"""MedCATtrainer exports: loading, structural validation and fingerprints.

An export is ``{"projects": [{"documents": [{"text": str, "annotations": [{"start": int,
"end": int, "cui": str, ...}]}]}]}``. :func:`validate_export` fails fast with a
:class:`~medcat_den.errors.TrainingError` naming the first problem and where it is.
:func:`fingerprint` is the sha256 of the canonical JSON, so the same data gives the same
fingerprint whether it came from a file, a store or memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from medcat_den.errors import TrainingError


def parse_export(raw: bytes | str, source: str) -> dict[str, Any]:
    """Parse JSON bytes/text into an export dict (not yet validated)."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TrainingError(f"{source}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise TrainingError(f"{source}: a MedCATtrainer export must be a JSON object with "
                            f"'projects', got {type(data).__name__}")
    return data


def load_export(source: dict[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """Return the export in ``source`` (an in-memory export or a JSON file path)."""
    if isinstance(source, dict):
        return source
    path = Path(source)
    if not path.is_file():
        raise TrainingError(f"training data file not found: {path}")
    return parse_export(path.read_bytes(), str(path))


def validate_export(export: dict[str, Any], source: str = "export") -> int:
    """Check the structure of an export; return the number of annotations."""
    projects = export.get("projects")
    if not isinstance(projects, list) or not projects:
        raise TrainingError(f"{source}: missing or empty 'projects' list")
    n_annotations = 0
    for pi, project in enumerate(projects):
        where_p = f"{source}: projects[{pi}]"
        if not isinstance(project, dict) or not isinstance(project.get("documents"), list):
            raise TrainingError(f"{where_p}: missing 'documents' list")
        for di, doc in enumerate(project["documents"]):
            where_d = f"{where_p}.documents[{di}]"
            if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
                raise TrainingError(f"{where_d}: missing 'text' string")
            anns = doc.get("annotations", [])
            if not isinstance(anns, list):
                raise TrainingError(f"{where_d}: 'annotations' must be a list")
            text_len = len(doc["text"])
            for ai, ann in enumerate(anns):
                where_a = f"{where_d}.annotations[{ai}]"
                if not isinstance(ann, dict):
                    raise TrainingError(f"{where_a}: must be an object")
                start, end, cui = ann.get("start"), ann.get("end"), ann.get("cui")
                if not isinstance(start, int) or not isinstance(end, int) \
                        or isinstance(start, bool) or isinstance(end, bool):
                    raise TrainingError(f"{where_a}: 'start' and 'end' must be integers")
                if not 0 <= start < end <= text_len:
                    raise TrainingError(f"{where_a}: span {start}-{end} out of range for a "
                                        f"text of length {text_len}")
                if not isinstance(cui, str) or not cui:
                    raise TrainingError(f"{where_a}: missing 'cui'")
                n_annotations += 1
    if n_annotations == 0:
        raise TrainingError(f"{source}: contains no annotations")
    return n_annotations


def fingerprint(export: dict[str, Any]) -> str:
    """sha256 (hex) of the export's canonical JSON."""
    canonical = json.dumps(export, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
