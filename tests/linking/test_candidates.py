"""Candidate generator (n-grams near names) and abbreviation propagation."""

from __future__ import annotations

from pathlib import Path


def test_abbreviations_follow_their_long_form(static_pack: Path) -> None:
    from medcat.cat import CAT

    cat = CAT.load_model_pack(str(static_pack))
    text = "we report a new case of severe heart failure (HF) . the HF was mild ."
    ents = [(text[e.base.start_char_index:e.base.end_char_index], e.cui)
            for e in cat(text).linked_ents]
    assert ents == [("heart failure", "C05"), ("HF", "C05"), ("HF", "C05")]
    cat.config.components.linking.use_abbreviations = False
    assert [t for t, _ in ((text[e.base.start_char_index:e.base.end_char_index], e.cui)
                           for e in cat(text).linked_ents)] == ["heart failure"]


def test_generator_proposes_spans_ending_in_name_words(static_pack: Path) -> None:
    from medcat.cat import CAT

    from medcat_den.linking.builder import get_linker

    cat = CAT.load_model_pack(str(static_pack))
    cnf = cat.config.components.linking
    cnf.use_candidate_generator = True
    cnf.generator_similarity_threshold = -1.0  # keep every proposed span
    linker = get_linker(cat)
    assert "failure" in linker.generator().heads and "the" not in linker.generator().heads
    text = "his mother suffered from severe renal failure ."
    cat.config.general.show_nested_entities = True
    doc = cat(text)
    spans = {text[e.base.start_char_index:e.base.end_char_index] for e in doc.linked_ents}
    assert {"renal failure", "severe renal failure", "failure"} <= spans
    assert "from severe renal failure" not in spans  # n-grams never start with a stop word
    assert all(e.cui for e in doc.linked_ents)
    cat.config.general.show_nested_entities = False
    cnf.generator_similarity_threshold = 1.01  # nothing is that similar
    spans = {text[e.base.start_char_index:e.base.end_char_index] for e in cat(text).linked_ents}
    assert spans == {"failure"}
