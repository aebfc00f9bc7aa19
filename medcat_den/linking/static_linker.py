"""``EmbeddingLinker``: the static embedding linker (MedCAT core linking component).

Registered as ``medcat_den_embedding_linker``. Links each candidate (NER
dictionary matches, optionally generated n-grams) by comparing the
transformer embedding of the mention in its context window with the
embeddings of the CDB's names (chunked matmul + top-k). Honours
``config.general.show_nested_entities`` and the linking CUI filters.

Config keys: see :mod:`medcat_den.linking.config`. Saved files (component
folder ``components/core_linking``): ``linker.json`` (model reference, flags),
``trained.safetensors`` (projection / unfrozen layers / rejection head, when
present), ``targets.json`` + ``target_embeddings.safetensors`` and, for
local models only, ``base_model/`` (byte-identical copies of the base files).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from medcat.components.types import AbstractEntityProvidingComponent, CoreComponentType
from medcat.storage.serialisables import AbstractManualSerialisable
from medcat.tokenizing.tokens import MutableDocument, MutableEntity
from medcat.utils.postprocessing import filter_linked_annotations
from safetensors.torch import load_file, save_file
from torch import Tensor

from medcat_den.errors import ConfigError, InvalidPackError
from medcat_den.linking.candidates import (
    KIND_DICT,
    KIND_TAGGED,
    CandidateGenerator,
    Mention,
    covered_spans,
    exact_token_range,
    find_abbreviations,
    mention_char_spans,
    repeated_occurrences,
    snippet,
    token_bounds,
    tokens_for_span,
    verbatim_occurrences,
)
from medcat_den.linking.config import (
    STATIC_LINKER_NAME,
    EmbeddingLinkingConfig,
    ensure_embedding_config,
)
from medcat_den.linking.context_model import ContextModel
from medcat_den.linking.mention_scorer import MentionScorer, scalar_features
from medcat_den.linking.mention_tagger import (
    TAGGER_FORMAT,
    DocStates,
    MentionTagger,
    decode,
    pool_spans,
    span_score,
)
from medcat_den.linking.model_ref import BASE_MODEL_FOLDER, ModelRef
from medcat_den.linking.name_index import EMB_FILE, NameIndex, chunked_topk

logger = logging.getLogger(__name__)


@dataclass
class TaggedDocument:
    """The tagger's view of one document: O/B/I probabilities (n, 3) and character
    offsets (n, 2) per transformer token, and its spans over MedCAT tokens."""

    probs: Tensor
    offsets: Tensor
    spans: list[tuple[int, int, float]]

META_FILE = "linker.json"
TRAINED_FILE = "trained.safetensors"
FORMAT_VERSION = 1


class EmbeddingLinker(AbstractEntityProvidingComponent, AbstractManualSerialisable):
    """Static embedding linker (see module docstring)."""

    name = STATIC_LINKER_NAME

    def __init__(self, cdb: Any, config: Any, tokenizer: Any,
                 component_folder: str | None = None) -> None:
        super().__init__()
        self.cdb = cdb
        self.config = config
        self.tokenizer = tokenizer
        self.cnf: EmbeddingLinkingConfig = ensure_embedding_config(config)
        meta = self._read_meta(component_folder) if component_folder else None
        if meta is not None and component_folder is not None:
            self.ref = ModelRef.from_stored(str(meta["model_ref"]), component_folder)
        else:
            self.ref = ModelRef.from_name(self.cnf.embedding_model_name)
        self._base_files = self._read_base_files()
        if self.cnf.mention_encoding not in ("auto", "document", "window"):
            raise ConfigError("mention_encoding must be 'auto', 'document' or 'window', got "
                              f"{self.cnf.mention_encoding!r}")
        torch.manual_seed(self.cnf.seed)
        self.context_model = ContextModel(self.ref, self.cnf)
        self.scorer: MentionScorer | None = None
        self.scorer_trained = False
        self.tagger: MentionTagger | None = None
        self.tagger_trained = False
        self._init_trainable_parts()
        if meta is not None and component_folder is not None:
            self._load_trained(component_folder, meta)
        self.index = NameIndex(self.cnf.train_on_names, config.general.separator)
        if component_folder and os.path.exists(os.path.join(component_folder, EMB_FILE)):
            self.index.load(component_folder, cdb)
        self._generator: CandidateGenerator | None = None
        self._gen_names: Tensor | None = None
        self._bounds_of: tuple[MutableDocument, list[tuple[int, int]]] | None = None
        self.refresh_names()

    # ----------------------------------------------------------------- setup
    @staticmethod
    def _read_meta(folder: str) -> dict[str, Any] | None:
        path = os.path.join(folder, META_FILE)
        if not os.path.exists(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                meta: dict[str, Any] = json.load(f)
        except (OSError, ValueError) as err:
            raise InvalidPackError(f"unreadable linker metadata {path!r}: {err}") from err
        if meta.get("format") != FORMAT_VERSION:
            raise InvalidPackError(f"linker metadata {path!r} has unknown format")
        return meta

    def _read_base_files(self) -> dict[str, bytes]:
        if self.ref.kind != "local":
            return {}
        files = {}
        for entry in sorted(os.listdir(self.ref.value)):
            p = os.path.join(self.ref.value, entry)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    files[entry] = f.read()
        return files

    def _init_trainable_parts(self) -> None:
        """Hook for the trainable subclass (creates the rejection head)."""

    def _make_scorer(self) -> MentionScorer:
        h = self.context_model.model.hidden_size
        return MentionScorer(h, h).to(self.context_model.device)

    def _load_trained(self, folder: str, meta: dict[str, Any]) -> None:
        path = os.path.join(folder, TRAINED_FILE)
        if not os.path.exists(path):
            return
        state = load_file(path)
        model_sd = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
        scorer_sd = {k[len("scorer."):]: v for k, v in state.items()
                     if k.startswith("scorer.")}
        tagger_sd = {k[len("tagger."):]: v for k, v in state.items()
                     if k.startswith("tagger.")}
        missing = set(model_sd) - set(self.context_model.model.state_dict())
        if missing:
            raise InvalidPackError(f"{path!r} has weights the model lacks: {sorted(missing)[:3]}")
        self.context_model.model.load_state_dict(model_sd, strict=False)
        if scorer_sd:
            if self.scorer is None:
                self.scorer = self._make_scorer()
            self.scorer.load_state_dict(scorer_sd)
            self.scorer.eval()
        self.scorer_trained = bool(meta.get("scorer_trained", False)) and bool(scorer_sd)
        if tagger_sd and meta.get("tagger_format") != TAGGER_FORMAT:
            logger.warning("%s: the mention tagger was saved in format %s, this version reads "
                           "format %d; the tagger is ignored (retrain to use it)", path,
                           meta.get("tagger_format", 1), TAGGER_FORMAT)
            tagger_sd = {}
        if tagger_sd:
            if self.tagger is None:
                self.tagger = self._make_tagger()
            self.tagger.load_state_dict(tagger_sd)
            self.tagger.eval()
        self.tagger_trained = bool(meta.get("tagger_trained", False)) and bool(tagger_sd)

    def _make_tagger(self) -> MentionTagger:
        return MentionTagger(self.context_model.tagger_input_size(),
                             self.cnf.tagger_hidden).to(self.context_model.device)

    def tagger_active(self) -> bool:
        return self.tagger is not None and self.tagger_trained and self.cnf.use_tagger

    def encodes_documents(self, training: bool = False) -> bool:
        """Whether mention vectors are pooled from one pass per document. ``auto``: when the
        tagger reads that pass anyway (at inference: a trained tagger; in training: one that
        is being trained); else one pass per candidate window is cheaper and, without the
        tagger, links better (NCBI devel, untrained: F1 0.674 vs 0.658)."""
        mode = self.cnf.mention_encoding
        if mode != "auto":
            return mode == "document"
        if training:
            return self.cnf.use_tagger and self.tagger is not None
        return self.tagger_active()

    def get_type(self) -> CoreComponentType:
        return CoreComponentType.linking

    @classmethod
    def create_new_component(cls, cnf: Any, tokenizer: Any, cdb: Any, vocab: Any,
                             model_load_path: str | None) -> EmbeddingLinker:
        return cls(cdb, cdb.config, tokenizer)

    # ----------------------------------------------------------- embeddings
    def embed_texts(self, texts: list[str]) -> Tensor:
        return self.context_model.embed_names(texts)

    def refresh_names(self, full: bool = False) -> int:
        """Match the name index to the CDB: embed names added since the last embedding (all
        if ``full``), drop removed ones. The generator's caches follow any change."""
        targets = self.index.keys
        n = self.index.sync(self.cdb, self.embed_texts, full=full)
        if full or n or self.index.keys != targets:
            self._generator = None
            self._gen_names = None
        return n

    def pooled_names(self) -> Tensor:
        """Encoder output (before projection) for every target text."""
        return self.context_model.pooled(self.index.texts, None, desc="Encoding names")[0]

    def embed_raw(self, texts: list[str]) -> Tensor:
        """Unprojected, L2-normalised encodings (the generator's space)."""
        return F.normalize(self.context_model.pooled(texts, None, desc="Encoding spans")[0],
                           dim=-1)

    def generator_names(self) -> Tensor:
        """Unprojected target embeddings for the candidate generator (cached)."""
        if self._gen_names is None or self._gen_names.shape[0] != len(self.index):
            if self.context_model.model.projection is None:
                self._gen_names = self.index.embeddings
            else:
                self._gen_names = F.normalize(self.pooled_names(), dim=-1).to(torch.float16)
        return self._gen_names

    def generator(self) -> CandidateGenerator:
        if self._generator is None:
            self._generator = CandidateGenerator(list(self.cdb.name2info),
                                                 self.config.general.separator)
        return self._generator

    # ------------------------------------------------------------ inference
    def token_bounds(self, doc: MutableDocument) -> list[tuple[int, int]]:
        """Character bounds of ``doc``'s tokens, kept for the last document: tagging,
        mention encoding and abbreviations all read them (reading MedCAT tokens is slow)."""
        if self._bounds_of is None or self._bounds_of[0] is not doc:
            self._bounds_of = (doc, token_bounds(doc))
        return self._bounds_of[1]

    def candidates(self, doc: MutableDocument, ents: list[MutableEntity]) -> list[Mention]:
        mentions = [Mention(e.base.start_index, e.base.end_index, e.base.start_char_index,
                            e.base.end_char_index, KIND_DICT, list(e.link_candidates), e)
                    for e in ents]
        if self.cnf.use_candidate_generator:
            taken = {(m.start_tok, m.end_tok) for m in mentions}
            allowed = self.index.allowed_mask(self.cnf.filters)
            names = self.generator_names()
            mentions += self.generator().propose(
                doc, taken, self.embed_raw,
                lambda mat: chunked_topk(mat, names, 1, self.cnf.name_chunk_size, allowed)[0][:, 0],
                self.cnf.generator_similarity_threshold, self.cnf.generator_max_ngram,
                self.cnf.generator_max_spans_per_doc)
        if self.tagger_active():
            mentions = self.with_tagged_mentions(doc, mentions)
        return mentions

    def tag_document(self, doc: MutableDocument) -> TaggedDocument:
        """The tagger's O/B/I probabilities per transformer token and its spans (inclusive
        MedCAT token ranges with their mean label probability, ``tagger_threshold`` up)."""
        assert self.tagger is not None
        text = doc.base.text
        if not text.strip() or len(doc) == 0:
            return TaggedDocument(torch.zeros(0, 3), torch.zeros(0, 2, dtype=torch.long), [])
        states = self.context_model.encode_document(text)
        self.tagger.eval()
        with torch.no_grad():
            probs = torch.softmax(self.tagger(states.states.to(self.context_model.device)
                                              ).float().cpu(), dim=-1)
        bounds = self.token_bounds(doc)
        out: dict[tuple[int, int], float] = {}
        for s, e, p in decode(probs, states.offsets, self.cnf.tagger_threshold):
            rng = tokens_for_span(bounds, s, e)
            if rng is not None:
                out[rng] = max(p, out.get(rng, 0.0))
        return TaggedDocument(probs, states.offsets, [(a, b, p) for (a, b), p in sorted(out.items())])

    def with_tagged_mentions(self, doc: MutableDocument, mentions: list[Mention]
                             ) -> list[Mention]:
        """Merge the tagger's view into the candidates.

        A tagged span no candidate has becomes a candidate (linked over all names). A
        dictionary candidate strictly inside a tagged span is dropped: the tagger saw a
        longer mention ("hereditary *cancer*"). A candidate the tagger does not see as a
        mention (``span_score`` below ``tagger_reject_below``) is dropped unless it is a
        tagged span itself.
        """
        tagged = self.tag_document(doc)
        spans = {(a, b) for a, b, _ in tagged.spans}
        kept = []
        for m in mentions:
            exact = (m.start_tok, m.end_tok) in spans
            inside = any(a <= m.start_tok and m.end_tok <= b for a, b in spans)
            if inside and not exact:
                continue
            if not exact and span_score(tagged.probs, tagged.offsets, m.start_char,
                                        m.end_char) < self.cnf.tagger_reject_below:
                continue
            kept.append(m)
        taken = {(m.start_tok, m.end_tok) for m in mentions}
        bounds = self.token_bounds(doc)
        kept += [Mention(a, b, bounds[a][0], bounds[b][1], KIND_TAGGED)
                 for a, b, _ in tagged.spans if (a, b) not in taken]
        return kept

    def encode_mentions(self, doc: MutableDocument, mentions: list[Mention]
                        ) -> tuple[Tensor, Tensor]:
        """(mention-pooled, window-pooled) vectors before projection, float32 on CPU."""
        text = doc.base.text
        bounds = self.token_bounds(doc)
        if self.encodes_documents():
            return self.pool_mentions(self.context_model.encode_document(text),
                                      mention_char_spans(bounds, mentions,
                                                         self.cnf.context_window_size))
        pairs = [snippet(text, bounds, m, self.cnf.context_window_size) for m in mentions]
        return self.context_model.pooled([p[0] for p in pairs], [p[1] for p in pairs],
                                         desc="Embedding mentions")

    def pool_mentions(self, states: DocStates,
                      spans: Sequence[tuple[tuple[int, int], tuple[int, int]]]
                      ) -> tuple[Tensor, Tensor]:
        """Mention and window vectors pooled from one document pass: the mean of the last
        layer over the mention's tokens (the window's when ``use_mention_attention`` is off
        or the mention covers no token) and over its window's tokens."""
        window = pool_spans(states, [w for _, w in spans])
        if not self.cnf.use_mention_attention:
            return window, window
        mention = pool_spans(states, [m for m, _ in spans])
        empty = (mention == 0).all(dim=-1, keepdim=True)
        return torch.where(empty, window, mention), window

    def link(self, queries: Tensor, mentions: list[Mention]
             ) -> tuple[list[str | None], Tensor, Tensor]:
        """Best CUI, its similarity and the best other-CUI similarity per mention."""
        filters = self.cnf.filters
        n = len(mentions)
        cuis: list[str | None] = [None] * n
        s1 = torch.full((n,), -1.0)
        s2 = torch.full((n,), -1.0)
        q = queries.detach().float().cpu()
        glob = []
        for i, m in enumerate(mentions):
            if not (m.ner_cuis and self.cnf.use_ner_link_candidates):
                glob.append(i)
                continue
            allowed = [c for c in m.ner_cuis if filters.check_filters(c)]
            tg = sorted({t for c in allowed for t in self.index.cui_targets.get(c, [])}
                        - m.hidden_targets)
            if not tg:
                continue
            sc = self.index.embeddings[torch.tensor(tg, dtype=torch.long)].float() @ q[i]
            order = torch.argsort(sc, descending=True, stable=True).tolist()
            allowed_set = set(allowed)
            best = next(c for c in self.index.target_cuis[tg[order[0]]] if c in allowed_set)
            cuis[i], s1[i] = best, float(sc[order[0]])
            for j in order[1:]:
                if best not in self.index.target_cuis[tg[j]]:
                    s2[i] = float(sc[j])
                    break
        if glob:
            mask = self.index.allowed_mask(filters)
            k = 8 + max(len(mentions[i].hidden_targets) for i in glob)
            sc, ix = self.index.topk(q[torch.tensor(glob)], k, self.cnf.name_chunk_size, mask)
            for row, i in enumerate(glob):
                best_cui: str | None = None
                hidden = mentions[i].hidden_targets
                for s, t in zip(sc[row].tolist(), ix[row].tolist(), strict=True):
                    if s == float("-inf"):
                        break
                    if t in hidden:
                        continue
                    cui = self.index.cui_of(t, filters.check_filters)
                    if best_cui is None:
                        best_cui, s1[i] = cui, s
                        cuis[i] = cui
                    elif cui != best_cui:
                        s2[i] = s
                        break
        return cuis, s1, s2

    def mention_features(self, doc_text: str, mentions: list[Mention], q: Tensor,
                         window: Tensor, s1: Tensor, s2: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        kinds = torch.tensor([m.kind for m in mentions])
        ntok = torch.tensor([m.end_tok - m.start_tok + 1 for m in mentions])
        gen = torch.tensor([m.gen_sim for m in mentions])
        upper = torch.tensor([_upper_ratio(doc_text[m.start_char:m.end_char])
                              for m in mentions])
        dev = self.context_model.device
        scal = scalar_features(s1, s2, gen, kinds, ntok, upper).to(dev)
        return q.to(dev), F.normalize(window.to(dev).float(), dim=-1), scal

    def _scores(self, doc: MutableDocument, mentions: list[Mention]
                ) -> tuple[list[str | None], Tensor, Tensor]:
        mention_vecs, window = self.encode_mentions(doc, mentions)
        return self.decide(doc.base.text, mentions, mention_vecs, window)

    def decide(self, text: str, mentions: list[Mention], mention_vecs: Tensor, window: Tensor
               ) -> tuple[list[str | None], Tensor, Tensor]:
        """CUI, similarity and acceptance score (NaN = rejected) per encoded mention."""
        with torch.no_grad():
            q = self.context_model.project(mention_vecs)
            cuis, s1, s2 = self.link(q, mentions)
            if self.scorer is not None and self.scorer_trained and self.cnf.use_rejection:
                self.scorer.eval()
                feats = self.mention_features(text, mentions, q, window, s1, s2)
                prob = torch.sigmoid(self.scorer(*feats)).float().cpu()
                keep = prob >= self.cnf.rejection_threshold
            else:
                prob = s1.clone()
                keep = torch.ones(len(mentions), dtype=torch.bool)
        keep &= s1 >= self.cnf.link_similarity_threshold
        tagged = torch.tensor([m.kind == KIND_TAGGED for m in mentions], dtype=torch.bool)
        keep &= ~tagged | (s1 >= self.cnf.tagger_link_threshold)
        return cuis, s1, torch.where(keep, prob, torch.full_like(prob, float("nan")))

    def _before_inference(self) -> None:
        if self.index.is_stale(self.cdb):
            self.refresh_names()

    def predict_entities(self, doc: MutableDocument, ents: list[MutableEntity] | None = None
                         ) -> list[MutableEntity]:
        if ents is None:
            raise ValueError("the embedding linker needs the NER's entities")
        self._before_inference()
        mentions = self.candidates(doc, ents)
        if not mentions:
            return []
        chosen: list[tuple[Mention, str, float, float]] = []
        bs = max(1, self.cnf.linking_batch_size)
        for start in range(0, len(mentions), bs):
            part = mentions[start:start + bs]
            cuis, s1, prob = self._scores(doc, part)
            for m, cui, s, p in zip(part, cuis, s1.tolist(), prob.tolist(), strict=True):
                if cui is not None and p == p:  # NaN marks rejected
                    chosen.append((m, cui, s, p))
        return self._select(doc, chosen, covered_spans(mentions, ents))

    def _entity(self, doc: MutableDocument, m: Mention) -> MutableEntity:
        if m.entity is not None:
            return m.entity  # type: ignore[no-any-return]
        ent: MutableEntity = doc[m.start_tok:m.end_tok + 1]
        ent.detected_name = ent.base.text.lower().replace(" ", self.config.general.separator)
        return ent

    def _select(self, doc: MutableDocument, chosen: list[tuple[Mention, str, float, float]],
                considered: Sequence[tuple[int, int]]) -> list[MutableEntity]:
        """Entities of the accepted candidates: overlaps resolved, repeats of linked
        surface forms at text no candidate covered (``considered``: every candidate's
        and NER match's character span) and abbreviations added."""
        if self.cnf.link_repeated_mentions and chosen:
            chosen = chosen + self._repeats(doc, chosen, considered)
        nested = bool(self.config.general.show_nested_entities)
        if not nested and self.cnf.overlap_resolution == "score":
            chosen.sort(key=lambda c: (-c[3], -(c[0].end_char - c[0].start_char), c[0].start_char))
            used: set[int] = set()
            kept = []
            for c in chosen:
                toks = set(range(c[0].start_tok, c[0].end_tok + 1))
                if toks & used:
                    continue
                used |= toks
                kept.append(c)
            chosen = kept
        ents: list[MutableEntity] = []
        for m, cui, s, p in chosen:
            ent = self._entity(doc, m)
            ent.cui = cui
            ent.context_similarity = s
            ent.confidence = p
            ents.append(ent)
        if self.cnf.use_abbreviations:
            ents += self._abbreviations(doc, ents)
        return assign_unique_ids(doc, filter_linked_annotations(doc, ents, nested))

    def _repeats(self, doc: MutableDocument, chosen: list[tuple[Mention, str, float, float]],
                 considered: Sequence[tuple[int, int]]
                 ) -> list[tuple[Mention, str, float, float]]:
        """Accepted-candidate tuples for the other occurrences of each accepted surface
        form that no candidate covered, with the source's CUI and scores. Before the
        abbreviations, so that "long form (ABBR)" at a repeat defines ABBR too."""
        bounds = self.token_bounds(doc)
        ranked = sorted(chosen, key=lambda c: (-c[3], c[0].start_char))
        linked = [(m.start_char, m.end_char, cui) for m, cui, _, _ in ranked]
        out: list[tuple[Mention, str, float, float]] = []
        for start, end, cui, source in repeated_occurrences(doc.base.text, linked, considered):
            rng = exact_token_range(bounds, start, end)
            if rng is None:
                continue
            _, _, s, p = ranked[source]
            out.append((Mention(rng[0], rng[1], start, end, KIND_DICT), cui, s, p))
        return out

    def _abbreviations(self, doc: MutableDocument, ents: list[MutableEntity]
                       ) -> list[MutableEntity]:
        text = doc.base.text
        linked = [(e.base.start_char_index, e.base.end_char_index, e.cui) for e in ents]
        abbrs = find_abbreviations(text, linked)
        if not abbrs:
            return []
        bounds = self.token_bounds(doc)
        used = {t for e in ents for t in range(e.base.start_index, e.base.end_index + 1)}
        out: list[MutableEntity] = []
        for abbr, cui in sorted(abbrs.items()):
            if not self.cnf.filters.check_filters(cui):
                continue
            for start, end in verbatim_occurrences(text, abbr):
                rng = exact_token_range(bounds, start, end)
                if rng is None:
                    continue
                toks = set(range(rng[0], rng[1] + 1))
                if toks & used:
                    continue
                used |= toks
                m = Mention(rng[0], rng[1], start, end, KIND_DICT)
                ent = self._entity(doc, m)
                ent.cui = cui
                ent.context_similarity = 1.0
                out.append(ent)
        return out

    # -------------------------------------------------------- serialisation
    def trained_state(self) -> dict[str, Tensor]:
        state = {f"model.{k}": v for k, v in self.context_model.model.trainable_state().items()}
        if self.scorer is not None:
            state.update({f"scorer.{k}": v.detach().cpu().contiguous()
                          for k, v in self.scorer.state_dict().items()})
        if self.tagger is not None and self.tagger_trained:
            state.update({f"tagger.{k}": v.detach().cpu().contiguous()
                          for k, v in self.tagger.state_dict().items()})
        return state

    def meta(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, "class": type(self).__name__,
                "model_ref": self.ref.stored(), "scorer_trained": self.scorer_trained,
                "tagger_trained": self.tagger_trained, "tagger_format": TAGGER_FORMAT}

    def serialise_to(self, folder_path: str) -> None:
        self._before_save()
        os.makedirs(folder_path, exist_ok=True)
        with open(os.path.join(folder_path, META_FILE), "w", encoding="utf-8") as f:
            json.dump(self.meta(), f, indent=2, sort_keys=True)
        state = self.trained_state()
        if state:
            save_file(state, os.path.join(folder_path, TRAINED_FILE))
        self.index.save(folder_path)
        if self._base_files:
            base = os.path.join(folder_path, BASE_MODEL_FOLDER)
            os.makedirs(base, exist_ok=True)
            for name, data in self._base_files.items():
                with open(os.path.join(base, name), "wb") as f:
                    f.write(data)

    def _before_save(self) -> None:
        """Hook: the trainable subclass flushes pending training examples."""

    @classmethod
    def deserialise_from(cls, folder_path: str, **init_kwargs: Any) -> EmbeddingLinker:
        cdb = init_kwargs["cdb"]
        return cls(cdb, cdb.config, init_kwargs["tokenizer"], component_folder=folder_path)

    def get_hash(self) -> str:
        """Hash of model reference, base weights, trained weights and linker settings."""
        h = hashlib.sha256()
        h.update(type(self).__name__.encode())
        h.update(self.ref.stored().encode())
        for name, data in sorted(self._base_files.items()):
            h.update(name.encode())
            h.update(hashlib.sha256(data).digest())
        settings = self.cnf.model_dump(exclude={"filters", "train"})
        h.update(json.dumps(settings, sort_keys=True, default=str).encode())
        h.update(json.dumps(self.meta(), sort_keys=True).encode())
        for k, v in sorted(self.trained_state().items()):
            h.update(k.encode())
            h.update(v.float().numpy().tobytes())
        return h.hexdigest()


def assign_unique_ids(doc: MutableDocument, ents: list[MutableEntity]) -> list[MutableEntity]:
    """Give every linked entity an id no other entity of ``doc`` has.

    ``cat.get_entities`` keys its output by entity id, so entities the linker creates
    (abbreviations, generated / tagged spans; their id defaults to -1) would otherwise
    overwrite each other or an NER entity. NER ids are kept; the rest get fresh ids
    above every id in the document.
    """
    taken = {int(e.id) for e in doc.ner_ents if int(e.id) >= 0}
    nxt = max(taken | {int(e.id) for e in ents}, default=-1) + 1
    seen: set[int] = set()
    for ent in ents:
        eid = int(ent.id)
        if eid < 0 or eid in seen:
            ent.id = nxt
            eid = nxt
            nxt += 1
        seen.add(eid)
    return ents


def _upper_ratio(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
