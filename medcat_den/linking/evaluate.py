"""``evaluate(cat, export)``: micro precision / recall / F1 of a MedCAT model on an export.

Predictions are what users get: ``cat.get_entities(text)`` (every entity it returns
counts; a duplicate prediction is a false positive). Strict: same document, start,
end and CUI (multiset matching). Lenient: same document and CUI with overlapping
spans (each prediction / annotation counted once).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

from medcat_den.linking.export_data import parse_export

Span = tuple[int, int, int, str]  # doc index, start, end, cui


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def span_metrics(gold: Iterable[Span], pred: Iterable[Span]) -> dict[str, float]:
    gold_s, pred_s = list(gold), list(pred)
    tp = sum((Counter(gold_s) & Counter(pred_s)).values())
    fp, fn = len(pred_s) - tp, len(gold_s) - tp
    p, r, f = _prf(tp, fp, fn)
    by_key: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    for d, s, e, c in gold_s:
        by_key[(d, c)].append((s, e))
    pred_by_key: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    for d, s, e, c in pred_s:
        pred_by_key[(d, c)].append((s, e))
    l_tp_pred = sum(1 for d, s, e, c in pred_s
                    if any(gs < e and s < ge for gs, ge in by_key.get((d, c), [])))
    l_tp_gold = sum(1 for d, s, e, c in gold_s
                    if any(ps < e and s < pe for ps, pe in pred_by_key.get((d, c), [])))
    l_fp, l_fn = len(pred_s) - l_tp_pred, len(gold_s) - l_tp_gold
    lp = l_tp_pred / len(pred_s) if pred_s else 0.0
    lr = l_tp_gold / len(gold_s) if gold_s else 0.0
    lf = 2 * lp * lr / (lp + lr) if lp + lr else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": float(tp), "fp": float(fp),
            "fn": float(fn), "lenient_precision": lp, "lenient_recall": lr, "lenient_f1": lf,
            "lenient_tp": float(l_tp_gold), "lenient_fp": float(l_fp), "lenient_fn": float(l_fn)}


def evaluate(cat: Any, export: dict[str, Any], progress: bool = True) -> dict[str, float]:
    """Micro P/R/F1 (strict and lenient) with tp/fp/fn of ``cat`` on ``export``.

    ``progress=False``: no progress bar (e.g. while a background job shows its own).
    """
    docs = parse_export(export, None, require_annotations=False)
    gold: list[Span] = []
    pred: list[Span] = []
    # no ``disable`` argument unless asked: an explicit one would override ``TQDM_DISABLE=1``
    bar = tqdm(docs, desc="Evaluating", leave=False, **({} if progress else {"disable": True}))
    for i, d in enumerate(bar):
        gold += [(i, s, e, c) for s, e, c in d.annotations]
        pred += [(i, int(e["start"]), int(e["end"]), str(e["cui"]))
                 for e in cat.get_entities(d.text)["entities"].values() if e.get("cui")]
    return span_metrics(gold, pred)
