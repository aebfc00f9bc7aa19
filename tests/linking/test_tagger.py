"""Learned mention detection: the tagger finds a span pattern no dictionary entry covers,
its weights survive save -> load, and exports it cannot learn from give clear errors."""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

import pytest

from medcat_den.errors import TrainingError

from .conftest import CONCEPTS, LINKER_OVERRIDES

# the novel word is never in the CDB: only context says it is a mention
NOVEL_TEMPLATE = "the patient was diagnosed with {w} last year ."
DICT_TEMPLATE = "his mother suffered from {n} ."
NEG_TEMPLATE = "a hotel called {n} is on this street ."


def _novel_word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(7))


def novel_export(seed: int, n_docs: int) -> tuple[dict[str, Any], list[list[tuple[int, int]]]]:
    """Docs with a dictionary mention, a dictionary look-alike and a novel-word mention
    (annotated with C30); also returns the novel spans per doc."""
    rng = random.Random(seed)
    names = [(c, n) for c, n in CONCEPTS if c != "C30"]
    docs, novel = [], []
    for d in range(n_docs):
        text, anns, spans = "", [], []
        for tpl in rng.sample([NOVEL_TEMPLATE, DICT_TEMPLATE, NEG_TEMPLATE], 3):
            cui, name = rng.choice(names)
            word = _novel_word(rng) if tpl is NOVEL_TEMPLATE else name
            pre = tpl.split("{")[0]
            start = len(text) + len(pre)
            if tpl is not NEG_TEMPLATE:
                anns.append({"cui": "C30" if tpl is NOVEL_TEMPLATE else cui, "start": start,
                             "end": start + len(word)})
            if tpl is NOVEL_TEMPLATE:
                spans.append((start, start + len(word)))
            text += tpl.replace("{w}", word).replace("{n}", word) + " "
        docs.append({"name": f"d{d}", "text": text, "annotations": anns})
        novel.append(spans)
    return {"projects": [{"name": "novel", "documents": docs}]}, novel


def _found(cat: Any, export: dict[str, Any], novel: list[list[tuple[int, int]]]) -> float:
    docs = export["projects"][0]["documents"]
    hits = total = 0
    for d, spans in zip(docs, novel, strict=True):
        got = {(int(e["start"]), int(e["end"])) for e in cat.get_entities(d["text"])["entities"].values()}
        hits += sum(s in got for s in spans)
        total += len(spans)
    return hits / total


def _pack(tmp_path: Path, tiny_bert_dir: Path, concepts_csv: Path, **extra: Any) -> Any:
    from medcat.cat import CAT

    from medcat_den.linking.builder import build_pack

    path = build_pack(str(concepts_csv), str(tmp_path), trainable=True, config_overrides={
        "embedding_model_name": str(tiny_bert_dir), **LINKER_OVERRIDES, **extra})
    return CAT.load_model_pack(path)


def test_tagger_finds_spans_the_dictionary_cannot(tmp_path: Path, tiny_bert_dir: Path,
                                                   concepts_csv: Path) -> None:
    from medcat.cat import CAT

    from medcat_den.linking.builder import get_linker

    train, _ = novel_export(11, 40)
    test, novel = novel_export(12, 12)
    results = {}
    for use_tagger in (True, False):
        cat = _pack(tmp_path / f"t{use_tagger}", tiny_bert_dir, concepts_csv,
                    use_tagger=use_tagger)
        assert _found(cat, test, novel) == 0.0  # untrained: the dictionary cannot find them
        get_linker(cat).fit(train)
        results[use_tagger] = _found(cat, test, novel)
        if use_tagger:
            linker = get_linker(cat)
            assert linker.tagger_trained
            text = test["projects"][0]["documents"][0]["text"]
            before = cat.get_entities(text)["entities"]
            (tmp_path / "saved").mkdir()
            saved = cat.save_model_pack(str(tmp_path / "saved"), pack_name="p",
                                        make_archive=False, add_hash_to_pack_name=False)
            cat2 = CAT.load_model_pack(saved)
            assert get_linker(cat2).tagger_trained
            assert cat2.get_entities(text)["entities"] == before
            assert _found(cat2, test, novel) == results[True]
            # the setting turns it off on a trained pack
            get_linker(cat2).cnf.use_tagger = False
            assert _found(cat2, test, novel) == 0.0
    assert results[True] >= 0.6, results
    assert results[False] == 0.0, results


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["annotations"].append({"start": d["annotations"][0]["start"],
                                        "end": d["annotations"][0]["end"] + 2, "cui": "C01"}),
     "overlap"),
    (lambda d: d.update(text="   ", annotations=[]), "empty"),
    (lambda d: d["annotations"].append({"start": 5, "end": 10_000, "cui": "C01"}),
     "out of range"),
])
def test_tagger_training_data_errors(trainable_pack: Path, toy_train: dict[str, Any],
                                     mutate: Any, message: str) -> None:
    import copy

    from medcat.cat import CAT

    from medcat_den.linking.builder import get_linker

    export = copy.deepcopy(toy_train)
    export["projects"][0]["documents"] = export["projects"][0]["documents"][:3]
    mutate(export["projects"][0]["documents"][1])
    linker = get_linker(CAT.load_model_pack(str(trainable_pack)))
    linker.cnf.use_tagger = True
    with pytest.raises(TrainingError, match=message):
        linker.preprocess(export)
