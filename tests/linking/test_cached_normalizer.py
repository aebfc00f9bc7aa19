"""The normaliser of packs made by build_cat: MedCAT's output, its spell-check work remembered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# "hypertensoin", "pneumonai": one edit from CDB words; "pnuemonai": two edits
TEXT = ("history of hypertensoin and pneumonai ; the patient counselling and "
        "examination showed nothing else .")


@pytest.fixture()
def cat(static_pack: Path) -> Any:
    from medcat.cat import CAT

    return CAT.load_model_pack(str(static_pack))


class _Base:
    def __init__(self, text: str) -> None:
        self.text, self.lower = text, text.lower()


class _Token:
    """A token that keeps its norm, as spaCy's do (MedCAT's regex tokens drop it)."""

    def __init__(self, text: str) -> None:
        self.base, self.lemma, self.tag, self.norm = _Base(text), text.lower(), None, ""
        self.is_punctuation, self.to_skip = not text.isalnum(), False


def _tokenizer(text: str) -> list[_Token]:
    return [_Token(w) for w in text.split()]


def _norms(normaliser: Any, text: str) -> list[str]:
    return [t.norm for t in normaliser(_tokenizer(text))]


def _both(cat: Any, nlp: Any = _tokenizer) -> tuple[Any, Any]:
    from medcat.components.normalizing.normalizer import TokenNormalizer

    from medcat_den.linking.cached_normalizer import CachedTokenNormalizer

    args = (nlp, cat.config, cat.cdb.token_counts, cat.vocab)
    return TokenNormalizer(*args), CachedTokenNormalizer(*args)


def test_packs_built_here_use_it_and_load_through_medcats_plugin_loader(
        static_pack: Path) -> None:
    # a fresh interpreter that imports only MedCAT: the medcat.plugins entry point registers it
    code = ("import sys\nfrom medcat.cat import CAT\n"
            "from medcat.components.types import CoreComponentType as T\n"
            "cat = CAT.load_model_pack(sys.argv[1])\n"
            "print(type(cat.pipe.get_component(T.token_normalizing)).__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(static_pack)], capture_output=True,
                         text=True, check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "CachedTokenNormalizer"


@pytest.mark.parametrize("deep", [False, True])
def test_same_norms_as_medcats_normaliser(cat: Any, deep: bool) -> None:
    cat.config.general.spell_check_deep = deep
    text = TEXT + (" pnuemonai ." if deep else "")
    medcat_normaliser, ours = _both(cat)
    assert ours.spell_checker.corrections_kept
    expected = _norms(medcat_normaliser, text)
    assert _norms(ours, text) == expected
    assert _norms(ours, text) == expected  # remembered: still the same
    assert {"hypertension", "pneumonia"} <= set(expected)  # the spell checker did correct
    assert expected.count("pneumonia") == (2 if deep else 1)


def test_remembers_until_the_cdb_words_change(cat: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from medcat.components.normalizing.normalizer import BasicSpellChecker
    from medcat.preprocessors.cleaners import prepare_name

    looked_up: list[str] = []
    original = BasicSpellChecker.candidates

    def counting(self: Any, word: str) -> Any:
        looked_up.append(word)
        return original(self, word)

    monkeypatch.setattr(BasicSpellChecker, "candidates", counting)
    _, ours = _both(cat)
    first = _norms(ours, TEXT)
    assert looked_up and "counselling" in looked_up
    n = len(looked_up)
    assert _norms(ours, TEXT) == first
    assert len(looked_up) == n  # nothing looked up again
    # a new CDB word one edit from "counselling": the remembered look-ups are dropped
    names = prepare_name("counseling", cat.pipe.tokenizer, {},
                         (cat.config.general, cat.config.preprocessing, cat.config.cdb_maker))
    cat.cdb.add_names("C27", names)
    again = _norms(ours, TEXT)
    assert len(looked_up) > n
    assert "counseling" in again and "counseling" not in first
    medcat_normaliser, _ = _both(cat)
    assert again == _norms(medcat_normaliser, TEXT)


def test_nothing_is_looked_up_for_tokens_that_drop_their_norm(
        cat: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from medcat.components.normalizing.normalizer import BasicSpellChecker
    from medcat.components.types import CoreComponentType

    looked_up: list[str] = []
    monkeypatch.setattr(BasicSpellChecker, "candidates",
                        lambda self, word: looked_up.append(word) or [word])
    medcat_normaliser, ours = _both(cat, cat.pipe.tokenizer)  # MedCAT's regex tokenizer
    assert not ours.spell_checker.corrections_kept
    tagger = cat.pipe.get_component(CoreComponentType.tagging)

    def run(normaliser: Any) -> list[tuple[str, str, bool]]:
        doc = normaliser(tagger(cat.pipe.tokenizer(TEXT)))
        return [(t.base.text, t.norm, t.to_skip) for t in doc]

    assert run(ours) == run(medcat_normaliser)
    n = len(looked_up)
    assert n > 0  # MedCAT's own looks words up, for corrections its tokens then drop
    run(ours)
    assert len(looked_up) == n
    # the pipeline's output is the same with either normaliser
    entities = cat.get_entities(TEXT)
    comps = cat.pipe._components
    comps[next(i for i, c in enumerate(comps)
               if c.get_type() is CoreComponentType.token_normalizing)] = medcat_normaliser
    assert type(cat.pipe.get_component(CoreComponentType.token_normalizing)).__name__ == (
        "TokenNormalizer")
    assert cat.get_entities(TEXT) == entities
