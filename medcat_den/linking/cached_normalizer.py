"""MedCAT's token normaliser with its spell checker's candidate corrections remembered.

Registered as the ``token_normalizing`` component ``medcat_den_cached_normalizer``;
packs made by :func:`medcat_den.linking.builder.build_cat` use it. Its output is MedCAT's
``TokenNormalizer``'s, token for token: only the work is remembered.

Why: with ``general.spell_check`` on (MedCAT's default) every token of at least
``spell_check_len_limit`` characters that is not a word of a CDB name is looked up as
every string one edit away from it (~600 for a 10-letter word). A CDB of disease names
lacks most English words, so on NCBI abstracts that is ~50 look-ups per document, the
same words in every document ("patients", "mutations"): 6-9 ms of a document's time.

- Which CDB words are one (or two, ``spell_check_deep``) edits from a word depends only on
  the CDB's words, so the set is kept per word, and dropped whenever the CDB's word set
  changes size (names added or removed). The best of the set is chosen at each call, by
  the CDB's current word counts, as MedCAT does.
- A tokenizer whose tokens do not keep a ``norm`` (MedCAT's regex tokenizer, the default
  without spaCy: its setter does nothing) throws every correction away, so then no word is
  looked up at all.

Config keys used: none of its own; MedCAT's ``general.spell_check``,
``general.spell_check_deep``, ``general.spell_check_len_limit``, ``general.diacritics``
and ``preprocessing.*``, as MedCAT's normaliser reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from medcat.components.normalizing.normalizer import BasicSpellChecker, TokenNormalizer

MAX_REMEMBERED_WORDS = 200_000


class CachedSpellChecker(BasicSpellChecker):
    """``BasicSpellChecker`` whose ``candidates`` are remembered per word. With
    ``corrections_kept`` false every word counts as known (nothing is corrected)."""

    def __init__(self, cdb_vocab: dict[str, int], config: Any, data_vocab: Any = None,
                 corrections_kept: bool = True) -> None:
        super().__init__(cdb_vocab, config, data_vocab)
        self.corrections_kept = corrections_kept
        self._remembered: dict[tuple[str, bool, bool], Iterable[str]] = {}
        self._vocab_state = (id(cdb_vocab), len(cdb_vocab))

    def __contains__(self, word: str) -> bool:
        return not self.corrections_kept or word in self.vocab

    def candidates(self, word: str) -> Iterable[str]:
        state = (id(self.vocab), len(self.vocab))
        if state != self._vocab_state or len(self._remembered) >= MAX_REMEMBERED_WORDS:
            self._remembered.clear()
            self._vocab_state = state
        general = self.config.general
        key = (word, bool(general.spell_check_deep), bool(general.diacritics))
        found = self._remembered.get(key)
        if found is None:
            found = self._remembered[key] = super().candidates(word)
        return found


class CachedTokenNormalizer(TokenNormalizer):
    """MedCAT's ``TokenNormalizer`` with a :class:`CachedSpellChecker`."""

    def __init__(self, nlp: Any, config: Any, cdb_vocab: dict[str, int],
                 data_vocab: Any = None) -> None:
        super().__init__(nlp, config, cdb_vocab, data_vocab)
        self.spell_checker = CachedSpellChecker(cdb_vocab, config, data_vocab,
                                                corrections_kept=tokens_keep_norms(nlp))


def tokens_keep_norms(nlp: Any) -> bool:
    """Whether a token of ``nlp`` keeps the ``norm`` it is given."""
    probe = nlp("probe")[0]
    probe.norm = "probe-norm"
    return bool(probe.norm == "probe-norm")
