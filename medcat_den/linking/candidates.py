"""Mention candidates: dictionary (NER) matches, generated n-grams, abbreviations, repeats.

``CandidateGenerator`` proposes spans the dictionary cannot find: n-grams of up
to ``generator_max_ngram`` tokens that end in a word which ends some concept
name (``tumours``, ``deficiency`` ...), whose context-free embedding is within
``generator_similarity_threshold`` of a target name. Embeddings of span texts
are cached (the same n-grams recur across documents).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

KIND_DICT = 0
KIND_GENERATED = 1
KIND_GOLD = 2
KIND_TAGGED = 3

_WORD = re.compile(r"\w", re.UNICODE)
_STOP = frozenset(
    "a an the of in on at to for from by with and or but as is are was were be been "
    "this that these those it its their his her our your which who whom whose than "
    "into onto over under between among we they he she i you not no".split())


@dataclass
class Mention:
    """A candidate span in a MedCAT document (token indices inclusive)."""

    start_tok: int
    end_tok: int
    start_char: int
    end_char: int
    kind: int
    ner_cuis: list[str] = field(default_factory=list)
    entity: Any = None
    gen_sim: float = 1.0
    gold_cui: str | None = None
    is_gold: bool = False
    # name-index targets linking must not use (training rows that simulate unseen text)
    hidden_targets: frozenset[int] = frozenset()


def token_bounds(doc: Any) -> list[tuple[int, int]]:
    return [(t.base.char_index, t.base.char_index + len(t.base.text)) for t in doc]


def snippet(text: str, bounds: Sequence[tuple[int, int]], m: Mention,
            window: int) -> tuple[str, tuple[int, int]]:
    """Context window of ``window`` tokens each side; mention span relative to it."""
    left, right = window_chars(bounds, m, window)
    return text[left:right], (m.start_char - left, m.end_char - left)


def window_chars(bounds: Sequence[tuple[int, int]], m: Mention, window: int) -> tuple[int, int]:
    """Character range of ``m`` with ``window`` tokens of context on each side."""
    left = bounds[max(0, m.start_tok - window)][0]
    right = bounds[min(len(bounds) - 1, m.end_tok + window)][1]
    return min(left, m.start_char), max(right, m.end_char)


def mention_char_spans(bounds: Sequence[tuple[int, int]], mentions: Sequence[Mention],
                       window: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(mention, context window) character ranges of each mention."""
    return [((m.start_char, m.end_char), window_chars(bounds, m, window)) for m in mentions]


def tokens_for_span(bounds: Sequence[tuple[int, int]], start: int, end: int
                    ) -> tuple[int, int] | None:
    """Inclusive token range covering [start, end) or None if no token overlaps."""
    idx = [i for i, (s, e) in enumerate(bounds) if e > start and s < end]
    return (idx[0], idx[-1]) if idx else None


class CandidateGenerator:
    """Embedding candidate generator (see module docstring)."""

    def __init__(self, names: Sequence[str], separator: str) -> None:
        heads: set[str] = set()
        for n in names:
            parts = [p for p in n.split(separator) if p]
            if parts and _WORD.search(parts[-1]) and len(parts[-1]) > 2:
                heads.add(parts[-1].lower())
        self.heads = heads
        self._cache: dict[str, Tensor] = {}

    def spans(self, doc: Any, taken: set[tuple[int, int]], max_ngram: int,
              max_spans: int) -> list[tuple[int, int]]:
        toks = list(doc)
        out: list[tuple[int, int]] = []
        for i, t in enumerate(toks):
            if t.base.lower not in self.heads:
                continue
            for n in range(1, max_ngram + 1):
                s = i - n + 1
                if s < 0:
                    break
                first = toks[s].base
                if not _WORD.search(first.text):
                    break
                if any(not (_WORD.search(x.base.text) or x.base.text == "-")
                       for x in toks[s:i + 1]):
                    break
                if first.lower in _STOP:
                    continue
                if (s, i) not in taken:
                    out.append((s, i))
        return out[:max_spans]

    def propose(self, doc: Any, taken: set[tuple[int, int]],
                embed: Callable[[list[str]], Tensor], score: Callable[[Tensor], Tensor],
                threshold: float, max_ngram: int, max_spans: int) -> list[Mention]:
        """Generated mentions (kind ``KIND_GENERATED``) with their best target similarity."""
        spans = self.spans(doc, taken, max_ngram, max_spans)
        if not spans:
            return []
        text = doc.base.text
        bounds = token_bounds(doc)
        texts = [text[bounds[s][0]:bounds[e][1]] for s, e in spans]
        missing = sorted({t.lower() for t in texts if t.lower() not in self._cache})
        if missing:
            vecs = embed(missing)
            for t, v in zip(missing, vecs, strict=True):
                self._cache[t] = v
        mat = torch.stack([self._cache[t.lower()] for t in texts])
        best = score(mat)
        out = []
        for (s, e), sim in zip(spans, best.tolist(), strict=True):
            if sim >= threshold:
                out.append(Mention(s, e, bounds[s][0], bounds[e][1], KIND_GENERATED,
                                   gen_sim=float(sim)))
        return out


_ABBR = re.compile(r"\s*\(\s*([^\s()]{2,12})\s*\)")


def find_abbreviations(text: str, linked: Sequence[tuple[int, int, str]]
                       ) -> dict[str, str]:
    """``long form (ABBR)`` definitions: ABBR -> CUI of the linked long form."""
    out: dict[str, str] = {}
    for start, end, cui in linked:
        m = _ABBR.match(text, end)
        if not m:
            continue
        abbr = m.group(1)
        if not any(c.isupper() for c in abbr) or not abbr[0].isalnum():
            continue
        if abbr[0].lower() != text[start].lower():
            continue
        out.setdefault(abbr, cui)
    return out


def verbatim_occurrences(text: str, form: str) -> list[tuple[int, int]]:
    """Character spans of ``form`` in ``text``, case-sensitive, not inside a longer word."""
    pat = re.compile(r"(?<![\w-])" + re.escape(form) + r"(?![\w-])")
    return [(m.start(), m.end()) for m in pat.finditer(text)]


def exact_token_range(bounds: Sequence[tuple[int, int]], start: int, end: int
                      ) -> tuple[int, int] | None:
    """Inclusive token range whose tokens cover exactly [start, end), else None."""
    rng = tokens_for_span(bounds, start, end)
    if rng is None or bounds[rng[0]][0] != start or bounds[rng[1]][1] != end:
        return None
    return rng


def covered_spans(mentions: Sequence[Mention], ents: Sequence[Any]) -> list[tuple[int, int]]:
    """Character spans of every candidate and NER match: the text the linker considered."""
    return ([(m.start_char, m.end_char) for m in mentions]
            + [(e.base.start_char_index, e.base.end_char_index) for e in ents])


def repeated_occurrences(text: str, linked: Sequence[tuple[int, int, str]],
                         considered: Sequence[tuple[int, int]]
                         ) -> list[tuple[int, int, str, int]]:
    """Other occurrences of linked multi-word surface forms that no candidate touches.

    ``(start, end, cui, source)`` for each verbatim occurrence (case-sensitive, whole
    words) of the text of ``linked[source]`` that overlaps none of the ``considered``
    character spans. An occurrence the linker saw and rejected is never returned: only
    text that neither the dictionary nor the tagger proposed (a tagger that missed the
    second "atelosteogenesis type 2" of an abstract whose title it linked). Single-word
    forms are left alone: a symbol such as "BRCA2" or "C6" linked once usually names the
    gene or protein at its other occurrences. The first source of a surface form wins;
    forms are taken in ``linked`` order.
    """
    out: list[tuple[int, int, str, int]] = []
    seen_forms: set[str] = set()
    for source, (start, end, cui) in enumerate(linked):
        form = text[start:end]
        if form in seen_forms or len(form.split()) < 2:
            continue
        seen_forms.add(form)
        out += [(a, b, cui, source) for a, b in verbatim_occurrences(text, form)
                if not any(a < y and x < b for x, y in considered)]
    return out
