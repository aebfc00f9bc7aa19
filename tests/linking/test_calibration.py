"""Threshold calibration on held-out training documents, with the names only they use hidden
so that they behave like unseen text; the CDB and the name index come back unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from medcat_den.linking.calibration import (
    REJECTION_THRESHOLDS,
    fold_unseen_names,
    names_hidden,
    split_for_calibration,
    surface_forms,
    unseen_names,
)
from medcat_den.linking.candidates import KIND_TAGGED, Mention
from medcat_den.linking.export_data import ExportDoc, parse_export


@pytest.fixture()
def trained_cat(trained: dict[str, Any]) -> Any:
    from medcat.cat import CAT

    return CAT.load_model_pack(str(trained["path"]))


def _cdb_state(cdb: Any) -> tuple[list[Any], dict[str, list[str]]]:
    return (list(cdb.name2info.items()),
            {c: sorted(info["names"]) for c, info in cdb.cui2info.items()})


def _predictions(cat: Any, export: dict[str, Any]) -> list[Any]:
    return [sorted((e["start"], e["end"], e["cui"]) for e in
                   cat.get_entities(d["text"])["entities"].values())
            for d in export["projects"][0]["documents"]]


def test_names_hidden_removes_and_restores_in_order(trained_cat: Any) -> None:
    cdb = trained_cat.cdb
    before = _cdb_state(cdb)
    with names_hidden(cdb, {"asthma", "copd", "not~a~name"}) as n:
        assert n == 2
        assert "asthma" not in cdb.name2info and "copd" not in cdb.cui2info["C07"]["names"]
        assert "chronic~obstructive~pulmonary~disease" in cdb.cui2info["C07"]["names"]
    assert _cdb_state(cdb) == before
    with pytest.raises(RuntimeError), names_hidden(cdb, {"asthma"}):
        raise RuntimeError("calibration failed")
    assert _cdb_state(cdb) == before


def test_unseen_names_are_the_dictionary_names_of_unseen_mentions(
        trained_cat: Any, toy_test: dict[str, Any]) -> None:
    from medcat_den.linking.builder import get_linker

    linker = get_linker(trained_cat)
    docs = parse_export(toy_test, None)
    seen = surface_forms(docs) - {"glaucoma", "heart attack"}
    hidden = unseen_names(docs, seen, linker._dictionary_names)
    assert hidden == {"glaucoma", "heart~attack"}
    assert unseen_names(docs, surface_forms(docs), linker._dictionary_names) == set()


def test_calibration_sees_no_unseen_name_and_leaves_the_linker_as_it_was(
        trained_cat: Any, toy_test: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from medcat_den.linking.builder import get_linker

    linker = get_linker(trained_cat)
    before_cdb = _cdb_state(linker.cdb)
    before_index = (list(linker.index.keys), linker.index.embeddings.clone())
    before_pred = _predictions(trained_cat, toy_test)
    threshold_before = linker.cnf.rejection_threshold
    docs = parse_export(toy_test, None)
    seen = surface_forms(docs) - {"glaucoma"}
    during: dict[str, Any] = {}
    real_best = type(linker)._best_threshold

    def best(self: Any, docs: Any) -> float:
        during["cdb"] = "glaucoma" in self.cdb.name2info
        during["index"] = "glaucoma" in self.index.keys
        during["ner"] = {name for d in docs for _, _, name in self._dictionary_names(d.text)}
        return real_best(self, docs)

    monkeypatch.setattr(type(linker), "_best_threshold", best)
    threshold = linker.calibrate_threshold(toy_test, seen)
    assert threshold in REJECTION_THRESHOLDS and linker.cnf.rejection_threshold == threshold
    assert during["cdb"] is False and during["index"] is False
    assert "glaucoma" not in during["ner"] and "diabetes" in during["ner"]
    assert _cdb_state(linker.cdb) == before_cdb
    assert linker.index.keys == before_index[0]
    assert linker.index.embeddings.equal(before_index[1])
    linker.cnf.rejection_threshold = threshold_before
    assert _predictions(trained_cat, toy_test) == before_pred


def test_split_for_calibration_holds_out_every_nth_document(toy_train: dict[str, Any]) -> None:
    from medcat_den.errors import TrainingError

    keep, held = split_for_calibration(toy_train, 4)
    n = len(toy_train["projects"][0]["documents"])
    assert len(held["projects"][0]["documents"]) == n // 4
    assert len(keep["projects"][0]["documents"]) + n // 4 == n
    with pytest.raises(TrainingError, match="calibration_every must be >= 2"):
        split_for_calibration(toy_train, 1)


@pytest.mark.parametrize("hide", [True, False])
def test_fit_calibrates_with_the_training_parts_surface_forms(
        trainable_pack: Any, toy_train: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        hide: bool) -> None:
    from medcat.cat import CAT

    from medcat_den.linking.builder import get_linker

    linker = get_linker(CAT.load_model_pack(str(trainable_pack)))
    linker.cnf.calibration_hides_unseen_names = hide
    got: dict[str, Any] = {}

    def calibrate(export: dict[str, Any], seen: set[str] | None = None) -> float:
        got["held"] = len(export["projects"][0]["documents"])
        got["seen"] = seen
        return 0.25

    monkeypatch.setattr(linker, "calibrate_threshold", calibrate)
    result = linker.fit(toy_train, epochs=1, calibrate_threshold=True)
    assert result["rejection_threshold"] == 0.25
    keep, held = split_for_calibration(toy_train, linker.cnf.calibration_every)
    assert got["held"] == len(held["projects"][0]["documents"])
    expected = surface_forms(parse_export(keep, None)) if hide else None
    assert got["seen"] == expected


def test_fold_unseen_names_are_the_names_no_other_fold_uses() -> None:
    docs = [ExportDoc("a", "Asthma and gout.", [(0, 6, "C1"), (11, 15, "C2")]),
            ExportDoc("b", "asthma here", [(0, 6, "C1")]),
            ExportDoc("c", "Gout, twice: gout", [(0, 4, "C2"), (13, 17, "C2")]),
            ExportDoc("d", "nothing annotated", [])]
    names = {"asthma": "asthma", "gout": "gout"}

    def detect(text: str) -> list[tuple[int, int, str]]:
        low = text.lower()
        out = []
        for form, name in names.items():
            at = low.find(form)
            while at >= 0:
                out.append((at, at + len(form), name))
                at = low.find(form, at + 1)
        return out

    # folds of 2: a and c are fold 0, b and d fold 1. "asthma" is in both folds; "gout"
    # only in fold 0 (a and c), so a and c treat it as unseen
    assert fold_unseen_names(docs, 2, detect) == [{"gout"}, set(), {"gout"}, set()]
    # folds of 4: every document its own fold; b's asthma is also in a, so nothing in b
    assert fold_unseen_names(docs, 4, detect) == [set(), set(), set(), set()]


def test_training_rows_simulate_unseen_text_and_leave_the_cdb_as_it_was(
        trained_cat: Any, toy_train: dict[str, Any]) -> None:
    from medcat_den.linking.builder import get_linker

    linker = get_linker(trained_cat)
    linker.cnf.unseen_name_folds, linker.cnf.unseen_name_min_docs_per_fold = 4, 1
    before = _cdb_state(linker.cdb)
    docs = parse_export(toy_train, None)
    hidden = fold_unseen_names(docs, 4, linker._dictionary_names)
    assert any(hidden)
    rows = [e for e in linker.preprocess(toy_train) if hasattr(e, "hidden_targets")]
    assert _cdb_state(linker.cdb) == before
    simulated = [e for e in rows if e.hidden_targets and e.gold_cui is not None
                 and e.kind == KIND_TAGGED]
    assert simulated, "a gold mention whose name is hidden must become a tagged-span row"
    # linking never uses a hidden name: with its own name hidden, a row is linked elsewhere
    key_of = dict(enumerate(linker.index.keys))
    for e in simulated[:5]:
        q = linker.index.embeddings[min(e.hidden_targets)].float().unsqueeze(0)
        own = Mention(0, 0, 0, 0, KIND_TAGGED)
        masked = Mention(0, 0, 0, 0, KIND_TAGGED, hidden_targets=e.hidden_targets)
        _, s_own, _ = linker.link(q, [own])
        _, s_masked, _ = linker.link(q, [masked])
        assert float(s_own[0]) > 0.99 and float(s_masked[0]) < float(s_own[0])
        assert all(key_of[t] in set().union(*hidden) for t in e.hidden_targets)
