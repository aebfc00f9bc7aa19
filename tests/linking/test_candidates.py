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


def test_repeated_occurrences_skip_what_a_candidate_covered() -> None:
    from medcat_den.linking.candidates import repeated_occurrences

    text = "Heart failure ( HF ) . heart failure , Heart failure and Heart failures ; Heart failure"
    linked = [(0, 13, "C05")]
    considered = [(0, 13), (39, 52)]  # the third "Heart failure" was a rejected candidate
    got = repeated_occurrences(text, linked, considered)
    # verbatim and whole words only: not "heart failure" (case), not "Heart failures"
    assert got == [(len(text) - 13, len(text), "C05", 0)]
    assert repeated_occurrences(text, linked, [(0, len(text))]) == []
    # the first source of a surface form wins
    two = repeated_occurrences("ab cd . ab cd", [(0, 5, "X"), (8, 13, "Y")], [(0, 5)])
    assert two == [(8, 13, "X", 0)]
    # a single word (a gene symbol linked once) is not repeated
    assert repeated_occurrences("BRCA2 carriers . BRCA2 gene", [(0, 5, "G")], [(0, 5)]) == []


def test_linked_surface_forms_are_linked_where_no_candidate_saw_them(
        trainable_pack: Path) -> None:
    from medcat.cat import CAT

    from medcat_den.linking.builder import get_linker

    cat = CAT.load_model_pack(str(trainable_pack))
    linker = get_linker(cat)
    text = "severe heart failure was seen . the heart failure ( HF ) got worse ; HF again ."

    def linked(keep_first_only: bool) -> list[tuple[str, str]]:
        doc = linker.ner_doc(text)
        ents = list(doc.ner_ents)
        assert [text[e.base.start_char_index:e.base.end_char_index] for e in ents
                ].count("heart failure") == 2
        if keep_first_only:  # as if only the first occurrence had been proposed
            ents = [e for e in ents if e.base.start_char_index < 25]
        out = linker.predict_entities(doc, ents)
        ids = [e.id for e in out]
        assert len(set(ids)) == len(ids)  # entities the linker made get ids of their own
        return sorted((text[e.base.start_char_index:e.base.end_char_index], str(e.cui))
                      for e in out)

    everything = linked(False)
    assert ("heart failure", "C05") in everything and ("HF", "C05") in everything
    assert linked(True) == everything  # the repeat is linked, and defines HF as well
    cat.config.components.linking.link_repeated_mentions = False
    assert linked(True) == [("heart failure", "C05")]
