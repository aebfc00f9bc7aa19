"""Threshold calibration on held-out training documents that behave like unseen text.

A CDB built from the training annotations' surface forms (the usual way to make one for
this linker) contains every name a held-out training document uses, so on those documents
the dictionary finds nearly every mention, and a threshold chosen there is too strict for new
text, where about a third of the mentions are not dictionary names. While calibrating, the
names that only the held-out documents contribute (their gold mentions' surface forms, when
no training document uses that surface form) are hidden from the CDB: the NER cannot propose
them and the linker cannot match them, as in unseen text. The CDB is restored afterwards,
entry for entry and in its order.

    calibration_every: 7                   # every N-th training document is held out (>= 2)
    calibration_hides_unseen_names: true   # false for a CDB whose names come from an ontology
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from medcat_den.errors import TrainingError
from medcat_den.linking.export_data import ExportDoc

# low values first: the accepted mentions of new text often score low
REJECTION_THRESHOLDS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.04) + tuple(x / 20 for x in range(1, 19))


def split_for_calibration(export: dict[str, Any], every: int
                          ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(training part, calibration part): every ``every``-th document is held out."""
    if every < 2:
        raise TrainingError(f"calibration_every must be >= 2, got {every}")
    docs = [d for p in export.get("projects", []) for d in p.get("documents", [])]
    held = [d for i, d in enumerate(docs) if i % every == every - 1]
    if not held or len(held) == len(docs):
        raise TrainingError(f"too few training documents ({len(docs)}) to hold out every "
                            f"{every}-th for threshold calibration")
    keep = [d for i, d in enumerate(docs) if i % every != every - 1]
    return ({"projects": [{"name": "train", "documents": keep}]},
            {"projects": [{"name": "calibration", "documents": held}]})


def surface_form(text: str) -> str:
    """A mention's text, lower-cased, whitespace collapsed."""
    return " ".join(text.lower().split())


def surface_forms(docs: Iterable[ExportDoc]) -> set[str]:
    return {surface_form(d.text[s:e]) for d in docs for s, e, _ in d.annotations}


Detect = Callable[[str], list[tuple[int, int, str]]]


def _names_at(doc: ExportDoc, unseen: Callable[[str], bool], detect: Detect) -> set[str]:
    spans = {(s, e) for s, e, _ in doc.annotations if unseen(surface_form(doc.text[s:e]))}
    if not spans:
        return set()
    return {name for s, e, name in detect(doc.text) if (s, e) in spans}


def unseen_names(docs: Iterable[ExportDoc], seen: set[str], detect: Detect) -> set[str]:
    """CDB names the dictionary NER (``detect``: text -> (start, end, name) per entity)
    finds exactly at a gold mention whose surface form is not in ``seen``."""
    out: set[str] = set()
    for d in docs:
        out |= _names_at(d, lambda form: form not in seen, detect)
    return out


def fold_unseen_names(docs: Sequence[ExportDoc], folds: int, detect: Detect) -> list[set[str]]:
    """Per document (document ``i`` is in fold ``i % folds``): the CDB names its gold
    mentions use whose surface form no document of another fold has. Hiding a fold's names
    while preparing its documents makes them look like unseen text, as in calibration."""
    form_folds: dict[str, set[int]] = {}
    for i, d in enumerate(docs):
        for s, e, _ in d.annotations:
            form_folds.setdefault(surface_form(d.text[s:e]), set()).add(i % folds)

    def only_in(fold: int) -> Callable[[str], bool]:
        return lambda form: form_folds[form] == {fold}

    return [_names_at(d, only_in(i % folds), detect) for i, d in enumerate(docs)]


@contextlib.contextmanager
def names_hidden(cdb: Any, names: set[str]) -> Iterator[int]:
    """Remove ``names`` from ``cdb.name2info`` and their concepts' name sets for the
    duration; yields how many were removed. Restores the mapping in its original order."""
    before = list(cdb.name2info.items())
    removed: list[tuple[str, list[str]]] = []
    try:
        for name in sorted(names):
            info = cdb.name2info.pop(name, None)
            if info is None:
                continue
            cuis = [c for c in info["per_cui_status"]
                    if c in cdb.cui2info and name in cdb.cui2info[c]["names"]]
            for cui in cuis:
                cdb.cui2info[cui]["names"].discard(name)
            removed.append((name, cuis))
        yield len(removed)
    finally:
        for name, cuis in removed:
            for cui in cuis:
                cdb.cui2info[cui]["names"].add(name)
        cdb.name2info.clear()
        cdb.name2info.update(before)
