"""Every entity the linker links reaches the user: ``linked_ents`` == ``get_entities`` ==
``get_entities_multi_texts`` == the caikit module (loaded through the real ModelManager),
and ``evaluate`` scores exactly what ``get_entities`` returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# abbreviations defined once and reused: the linker creates those entities itself
TEXTS = [
    "the patient was diagnosed with heart failure ( HF ) last year . HF is known . "
    "history of chronic obstructive pulmonary disease ( COPD ) ; COPD and HF are severe .",
    "his mother suffered from myocardial infarction ( MI ) . MI , MI and rheumatoid "
    "arthritis ( RA ) with RA today .",
    "no signs of anything .",
]


def _linked(cat: Any, text: str) -> list[tuple[int, int, str]]:
    return sorted((e.base.start_char_index, e.base.end_char_index, str(e.cui))
                  for e in cat(text).linked_ents)


def _out(entities: dict[Any, Any]) -> list[tuple[int, int, str]]:
    return sorted((int(e["start"]), int(e["end"]), str(e["cui"])) for e in entities.values())


def test_get_entities_returns_every_linked_entity(static_pack: Path) -> None:
    from medcat.cat import CAT

    cat = CAT.load_model_pack(str(static_pack))
    abbr_ents = 0
    for text in TEXTS:
        linked = _linked(cat, text)
        got = cat.get_entities(text)
        assert _out(got["entities"]) == linked
        assert len(got["entities"]) == len(linked)  # no entity overwritten by an id clash
        ids = [e.id for e in cat(text).linked_ents]
        assert len(set(ids)) == len(ids) and min(ids, default=0) >= 0
        abbr_ents += sum(1 for s, e, _ in linked if text[s:e].isupper())
    assert abbr_ents >= 6  # the abbreviation occurrences really were linked (and kept)
    try:
        multi = cat.get_entities_multi_texts(TEXTS)
    except ImportError as err:  # MedCAT 2.9 imports RelCAT here, broken with transformers 5
        pytest.skip(f"get_entities_multi_texts unavailable: {err}")
    assert [_out(m["entities"]) for _, m in multi] == [_linked(cat, t) for t in TEXTS]


def test_evaluate_scores_what_get_entities_returns(static_pack: Path) -> None:
    from medcat.cat import CAT

    from medcat_den.linking import evaluate

    cat = CAT.load_model_pack(str(static_pack))
    text = TEXTS[0]
    preds = _out(cat.get_entities(text)["entities"])
    hf = [(s, e, c) for s, e, c in preds if text[s:e] == "HF"]
    assert len(hf) == 3
    gold = [{"start": s, "end": e, "cui": c} for s, e, c in hf]
    export = {"projects": [{"documents": [{"text": text, "annotations": gold}]}]}
    m = evaluate(cat, export)
    assert (m["tp"], m["fp"], m["fn"]) == (3.0, float(len(preds) - 3), 0.0)
    assert m["recall"] == 1.0


def test_caikit_module_returns_get_entities(static_pack: Path, isolated_env: Path) -> None:
    from caikit.core.model_manager import ModelManager
    from medcat.cat import CAT

    from medcat_den.caikit.server import configure_caikit
    from medcat_den.den import get_default_den
    from tests.helpers.caikit import isolated_caikit_state

    with isolated_caikit_state(reset_runtime=True):
        get_default_den().push_model(str(static_pack), name="toy-linker")
        configure_caikit(runtime=False)
        module = ModelManager().load("den://toy-linker", finder="den", initializer="medcat")
        cat = CAT.load_model_pack(str(static_pack))
        for text in TEXTS:
            got = [(e.start, e.end, e.cui) for e in module.run(text).entities]
            assert got == _out(cat.get_entities(text)["entities"]) == _linked(cat, text)
