"""Parsing and validation of MedCATtrainer exports (``{"projects": [{"documents": ...}]}``).

Annotations marked ``deleted``, ``killed`` or ``correct: false`` are ignored.
Every problem raises :class:`medcat_den.errors.TrainingError` naming the
document and annotation.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

from medcat_den.errors import TrainingError

logger = logging.getLogger(__name__)


@dataclass
class ExportDoc:
    name: str
    text: str
    annotations: list[tuple[int, int, str]] = field(default_factory=list)


def parse_export(export: Any, known_cuis: Container[str] | None = None,
                 require_annotations: bool = True,
                 max_unknown_fraction: float = 0.0) -> list[ExportDoc]:
    """Validated documents of an export.

    With ``known_cuis``, annotations of other CUIs are an error when they are more than
    ``max_unknown_fraction`` of all annotations (or any at all when it is 0); below it
    they are kept and logged (an open-world validation split).
    """
    if not isinstance(export, dict) or not isinstance(export.get("projects"), list):
        raise TrainingError("not a MedCATtrainer export: expected a dict with a 'projects' list")
    docs: list[ExportDoc] = []
    unknown: dict[str, str] = {}
    for p_i, project in enumerate(export["projects"]):
        if not isinstance(project, dict) or not isinstance(project.get("documents"), list):
            raise TrainingError(f"project #{p_i} has no 'documents' list")
        for d_i, d in enumerate(project["documents"]):
            name = str(d.get("name", d.get("id", f"{p_i}/{d_i}"))) if isinstance(d, dict) \
                else f"{p_i}/{d_i}"
            if not isinstance(d, dict) or not isinstance(d.get("text"), str):
                raise TrainingError(f"document {name!r} has no 'text' string")
            text = d["text"]
            doc = ExportDoc(name, text)
            for a in d.get("annotations", []) or []:
                if a.get("deleted") or a.get("killed") or a.get("correct") is False:
                    continue
                start, end, cui = a.get("start"), a.get("end"), a.get("cui")
                if not isinstance(start, int) or not isinstance(end, int):
                    raise TrainingError(f"document {name!r}: annotation without int start/end")
                if not (0 <= start < end <= len(text)):
                    raise TrainingError(
                        f"document {name!r}: annotation span [{start}, {end}) is out of range "
                        f"for a text of {len(text)} characters")
                if not isinstance(cui, str) or not cui:
                    raise TrainingError(f"document {name!r}: annotation without a CUI")
                if known_cuis is not None and cui not in known_cuis:
                    unknown.setdefault(cui, name)
                doc.annotations.append((start, end, cui))
            docs.append(doc)
    if not docs:
        raise TrainingError("the export has no documents")
    if unknown:
        sample = ", ".join(f"{c} (in {n!r})" for c, n in sorted(unknown.items())[:5])
        total = sum(len(d.annotations) for d in docs)
        n_unknown = sum(1 for d in docs for a in d.annotations if a[2] in unknown)
        if max_unknown_fraction <= 0 or n_unknown > max_unknown_fraction * total:
            raise TrainingError(
                f"{len(unknown)} annotated CUI(s) are not in the model's CDB "
                f"({n_unknown} of {total} annotations): {sample}")
        logger.warning("%d of %d annotations use CUIs not in the CDB (e.g. %s); they only "
                       "train the rejection head", n_unknown, total, sample)
    if require_annotations and not any(d.annotations for d in docs):
        raise TrainingError("the export has no (valid) annotations to train on")
    return docs
