"""``TrainableEmbeddingLinker``: the static linker plus what training needs.

Registered as ``medcat_den_trainable_embedding_linker``. Adds a projection
layer (identity at start), optional unfrozen top LM layers and the learned
rejection head, trained with

- a contrastive loss with temperature: the mention (in context) against its
  best-matching name of the gold CUI, hard negatives from the top of the name
  index and in-batch positives of other rows; names of the gold CUI are never
  negatives;
- binary cross-entropy of the rejection head on the candidate spans (NER
  dictionary matches and generated n-grams) of annotated documents.

With a frozen LM, mention and name encodings are computed once and cached, so
an epoch only runs the projection and the head. Training is deterministic for
a given ``seed``, in every process alike (on one machine and thread count), and
runs in float32 (no autocast), on CPU or GPU.

Entry points: :meth:`fit`, the MedCAT hook ``train_supervised_batch`` (used by
``cat.trainer.train_supervised_raw``; examples accumulate across documents up
to ``training_batch_size`` and are flushed before inference / saving), and
:meth:`as_trainable` (the structural protocol driven by ``medcat_den.training``).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from medcat.components.types import CoreComponentType, TrainingExample, create_core_component
from torch import Tensor
from tqdm.auto import tqdm

from medcat_den.errors import TrainingError
from medcat_den.linking.calibration import (
    REJECTION_THRESHOLDS,
    fold_unseen_names,
    names_hidden,
    split_for_calibration,
    surface_forms,
    unseen_names,
)
from medcat_den.linking.candidates import (
    KIND_GOLD,
    KIND_TAGGED,
    Mention,
    covered_spans,
    mention_char_spans,
    snippet,
    token_bounds,
    tokens_for_span,
)
from medcat_den.linking.config import TRAINABLE_LINKER_NAME
from medcat_den.linking.evaluate import Span, span_metrics
from medcat_den.linking.export_data import ExportDoc, parse_export
from medcat_den.linking.mention_scorer import scalar_features
from medcat_den.linking.mention_tagger import bio_labels, check_spans
from medcat_den.linking.static_linker import EmbeddingLinker, _upper_ratio
from medcat_den.training import ProgressCallback, Trainer, TrainerConfig

if TYPE_CHECKING:
    from medcat_den.linking.trainable_adapter import TrainableLinkerAdapter

logger = logging.getLogger(__name__)


@dataclass
class LinkExample:
    """One training row: a candidate span and/or an annotated mention."""

    snippet: str
    span: tuple[int, int]
    kind: int
    gen_sim: float
    ner_cuis: list[str]
    n_tokens: int
    upper: float
    candidate: bool
    label: float
    gold_cui: str | None
    row: int = -1
    doc_text: str = ""
    chars: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))  # mention, window
    hidden_targets: frozenset[int] = frozenset()  # names treated as unseen for this row


@dataclass
class TagExample:
    """One training document for the mention tagger: token states (cached while the LM
    is frozen) or the text to encode, and the O/B/I label of every token."""

    text: str
    labels: Tensor
    states: Tensor | None = None


@dataclass
class LinkBatch:
    rows: Tensor
    examples: list[LinkExample]
    tags: list[TagExample] = field(default_factory=list)


def target_logits(queries: Tensor, targets: Tensor, picks: Tensor) -> Tensor:
    """(b, k) dot products ``queries[r] . targets[picks[r, j]]``.

    Scored against every distinct target, then picked per row: the backward pass is two
    matmuls. Gathering the rows of ``targets`` first (one target recurs in many rows) made
    it an accumulating index_put whose float sums, on several threads, came out different
    in each process: a training run could not be repeated (devel F1 0.750-0.756 for one
    command)."""
    return (queries @ targets.T).gather(1, picks)


def _epoch_losses(history: list[dict[str, Any]], epochs: int) -> list[float]:
    """Mean step loss of each epoch, from the Trainer's log history."""
    per_epoch: dict[int, list[float]] = {}
    for entry in history:
        if "loss" in entry:
            per_epoch.setdefault(int(entry["epoch"]), []).append(float(entry["loss"]))
    losses = [sum(v) / len(v) for _, v in sorted(per_epoch.items())]
    if not losses:
        raise TrainingError(f"training made no optimizer step in {epochs} epoch(s)")
    return losses


class TrainableEmbeddingLinker(EmbeddingLinker):
    """Trainable embedding linker (see module docstring)."""

    name = TRAINABLE_LINKER_NAME

    def _init_trainable_parts(self) -> None:
        self.scorer = self._make_scorer()
        self.tagger = self._make_tagger()
        self.vocab: Any = None
        self._pre_components: list[Any] | None = None
        self._feat_mention = torch.zeros(0, self.context_model.model.hidden_size)
        self._feat_window = torch.zeros(0, self.context_model.model.hidden_size)
        self._feat_pending: list[tuple[Tensor, Tensor]] = []  # concatenated on first use
        self._feat_rows = 0
        self._name_pooled: Tensor | None = None
        self._steps = 0
        self._stale = False
        self._prepared: list[list[LinkExample]] = []
        self._pending: list[LinkExample] = []
        self._hook_optimizer: torch.optim.Optimizer | None = None
        self._hook_trained = False
        self._rng = random.Random(self.cnf.seed)

    @classmethod
    def create_new_component(cls, cnf: Any, tokenizer: Any, cdb: Any, vocab: Any,
                             model_load_path: str | None) -> TrainableEmbeddingLinker:
        linker = cls(cdb, cdb.config, tokenizer)
        linker.vocab = vocab
        return linker

    @classmethod
    def deserialise_from(cls, folder_path: str, **init_kwargs: Any) -> TrainableEmbeddingLinker:
        cdb = init_kwargs["cdb"]
        linker = cls(cdb, cdb.config, init_kwargs["tokenizer"], component_folder=folder_path)
        linker.vocab = init_kwargs.get("vocab")
        return linker

    @property
    def lm_frozen(self) -> bool:
        return self.context_model.model.top_n_layers_to_unfreeze == 0

    # ------------------------------------------------------------ documents
    def ner_doc(self, text: str) -> Any:
        """Tokenise and run the pack's tagging / normalising / NER components."""
        if self._pre_components is None:
            comps = []
            for ctype in (CoreComponentType.tagging, CoreComponentType.token_normalizing,
                          CoreComponentType.ner):
                cnf = getattr(self.config.components, ctype.name)
                comps.append(create_core_component(ctype, cnf.comp_name, cnf, self.tokenizer,
                                                   self.cdb, self.vocab, None))
            self._pre_components = comps
        doc = self.tokenizer(text)
        for comp in self._pre_components:
            doc = comp(doc)
        return doc

    def _doc_examples(self, doc: Any, gold: dict[tuple[int, int], str],
                      extra_negatives: Sequence[tuple[int, int]] = (),
                      hidden_targets: frozenset[int] = frozenset()) -> list[LinkExample]:
        text = doc.base.text
        bounds = token_bounds(doc)
        mentions = self.candidates(doc, list(doc.ner_ents))
        seen = {(m.start_char, m.end_char) for m in mentions}
        tagging = self.cnf.use_tagger and self.tagger is not None
        for (s, e), _cui in sorted(gold.items()):
            if (s, e) in seen:
                continue
            rng = tokens_for_span(bounds, s, e)
            if rng is None:
                logger.warning("annotation [%d, %d) covers no token; skipped", s, e)
                continue
            # with the tagger, a mention the dictionary missed is what a tagged span is
            mentions.append(Mention(rng[0], rng[1], s, e, KIND_TAGGED if tagging else KIND_GOLD))
            seen.add((s, e))
        if tagging and self.cnf.tagger_negatives_per_doc > 0:
            taken = {(m.start_tok, m.end_tok) for m in mentions}
            spans = self.generator().spans(doc, taken, 3, 10_000)
            self._rng.shuffle(spans)
            for a, b in spans[: self.cnf.tagger_negatives_per_doc]:
                mentions.append(Mention(a, b, bounds[a][0], bounds[b][1], KIND_TAGGED))
        for s, e in extra_negatives:
            rng = tokens_for_span(bounds, s, e)
            if rng is not None and (s, e) not in seen:
                mentions.append(Mention(rng[0], rng[1], s, e, 0))
                seen.add((s, e))
        out = []
        window = self.cnf.context_window_size
        for m, chars in zip(mentions, mention_char_spans(bounds, mentions, window), strict=True):
            snip, span = snippet(text, bounds, m, window)
            cui = gold.get((m.start_char, m.end_char))
            if cui is not None and cui not in self.index.cui_targets:
                cui = None
            out.append(LinkExample(
                snip, span, m.kind, m.gen_sim, m.ner_cuis, m.end_tok - m.start_tok + 1,
                _upper_ratio(text[m.start_char:m.end_char]), m.kind != KIND_GOLD,
                float((m.start_char, m.end_char) in gold), cui, doc_text=text, chars=chars,
                hidden_targets=hidden_targets))
        return out

    def _pool_examples(self, examples: Sequence[LinkExample], grad: bool
                       ) -> tuple[Tensor, Tensor]:
        """Mention and window vectors of ``examples``, in order: one document pass per
        document (see ``encodes_documents``) or one window pass per example."""
        if not self.encodes_documents(training=True):
            if not grad:
                return self.context_model.pooled([e.snippet for e in examples],
                                                 [e.span for e in examples],
                                                 desc="Encoding training mentions")
            inputs = self.context_model.tokenize([e.snippet for e in examples],
                                                 [e.span for e in examples],
                                                 self.cnf.max_context_tokens)
            if not self.cnf.use_mention_attention:
                inputs.pop("mention_mask")
            dev = self.context_model.device
            m, w = self.context_model.model.encode(**{k: v.to(dev) for k, v in inputs.items()})
            return m, w
        by_doc: dict[str, list[int]] = {}
        for i, e in enumerate(examples):
            by_doc.setdefault(e.doc_text, []).append(i)
        h = self.context_model.model.hidden_size
        dev = self.context_model.device if grad else torch.device("cpu")
        m_all = torch.zeros(len(examples), h, device=dev)
        w_all = torch.zeros(len(examples), h, device=dev)
        docs = by_doc.items() if grad else tqdm(by_doc.items(), leave=False,
                                                 desc="Encoding training documents")
        for text, rows in docs:
            states = self.context_model.encode_document(text, grad=grad)
            m, w = self.pool_mentions(states, [examples[i].chars for i in rows])
            ix = torch.tensor(rows, device=dev)
            m_all[ix], w_all[ix] = m.to(dev), w.to(dev)
        return m_all, w_all

    def _add_features(self, examples: list[LinkExample]) -> None:
        """Cache pooled encodings of the examples (frozen LM only: they never change)."""
        if not examples:
            return
        start = self._feat_rows
        if self.lm_frozen:
            self._feat_pending.append(self._pool_examples(examples, grad=False))
            self._feat_rows += len(examples)
        for i, e in enumerate(examples):
            e.row = start + i

    def _cached_features(self) -> tuple[Tensor, Tensor]:
        if self._feat_pending:
            self._feat_mention = torch.cat([self._feat_mention,
                                            *(m for m, _ in self._feat_pending)])
            self._feat_window = torch.cat([self._feat_window,
                                           *(w for _, w in self._feat_pending)])
            self._feat_pending = []
        return self._feat_mention, self._feat_window

    # ------------------------------------------------------- the protocol
    def preprocess(self, export: dict[str, Any]) -> list[LinkExample]:
        """MedCATtrainer export → training examples (validated; features cached)."""
        self._before_inference()
        docs = parse_export(export, self.cdb.cui2info,
                            max_unknown_fraction=self.cnf.max_unknown_cui_fraction)
        tagging = self.cnf.use_tagger and self.tagger is not None
        if tagging:
            for d in docs:
                if not d.text.strip():
                    raise TrainingError(f"document {d.name!r} is empty (no text to tag)")
                check_spans([(s, e) for s, e, _ in d.annotations], len(d.text),
                            f"document {d.name!r}")
        folds, hidden = self._unseen_name_folds(docs)
        if tagging and folds > 1:
            self.generator()  # made from the whole CDB, before any fold hides names
        targets = {k: i for i, k in enumerate(self.index.keys)} if self.index.on_names else {}
        examples: list[LinkExample] = []
        tags: list[TagExample] = []
        progress = tqdm(total=len(docs), desc="Preparing training documents", leave=False)
        for fold in range(folds):
            members = range(fold, len(docs), folds)
            names = set().union(*(hidden[i] for i in members))
            # the fold's own names are hidden from the NER while its documents are prepared
            with names_hidden(self.cdb, names) if names else contextlib.nullcontext(0):
                for i in members:
                    rows, tag = self._prepare_document(
                        docs[i], frozenset(targets[n] for n in hidden[i] if n in targets),
                        tagging)
                    examples += rows
                    tags += [tag] if tag is not None else []
                    progress.update()
        progress.close()
        self._prepared.append(examples)
        logger.info("Prepared %d training rows (%d candidates, %d with a gold CUI) and %d "
                    "tagger documents", len(examples), sum(e.candidate for e in examples),
                    sum(e.gold_cui is not None for e in examples), len(tags))
        # the tagger's documents are seen ``tagger_passes`` times per epoch: its BiLSTM needs
        # more passes than the linking heads, and its cached states make a pass cheap
        return [*examples, *(tags * max(1, self.cnf.tagger_passes))]  # type: ignore[list-item]

    def _prepare_document(self, d: ExportDoc, hidden_targets: frozenset[int], tagging: bool
                          ) -> tuple[list[LinkExample], TagExample | None]:
        doc = self.ner_doc(d.text)
        rows = self._doc_examples(doc, {(s, e): c for s, e, c in d.annotations},
                                  hidden_targets=hidden_targets)
        tag = (self._tag_example(d.text, [(s, e) for s, e, _ in d.annotations])
               if tagging else None)
        # its rows' vectors come from the pass the tagger example just made
        self._add_features(rows)
        return rows, tag

    def _unseen_name_folds(self, docs: list[ExportDoc]) -> tuple[int, list[set[str]]]:
        """(folds, per document the CDB names treated as unseen while preparing it)."""
        folds = self.cnf.unseen_name_folds
        if folds < 2 or len(docs) < folds * self.cnf.unseen_name_min_docs_per_fold:
            return 1, [set() for _ in docs]
        hidden = fold_unseen_names(docs, folds, self._dictionary_names)
        logger.info("simulating unseen text: %d names hidden, each in its fold (%d folds of "
                    "%d documents)", len(set().union(*hidden)), folds, len(docs))
        return folds, hidden

    def _tag_example(self, text: str, spans: list[tuple[int, int]]) -> TagExample:
        """Labels per transformer token; states cached in float16 while the LM is frozen."""
        if self.lm_frozen:
            st = self.context_model.encode_document(text)
            return TagExample(text, bio_labels(st.offsets, spans), st.states.to(torch.float16))
        inputs = self.context_model.encode_document(text)  # offsets only; re-encoded per step
        return TagExample(text, bio_labels(inputs.offsets, spans))

    def _training_set_of(self, batch: LinkBatch) -> list[LinkExample]:
        """The preprocessed example list the batch was drawn from (else the batch itself)."""
        first = batch.examples[0] if batch.examples else None
        for examples in reversed(self._prepared):
            if any(e is first for e in examples):
                return examples
        return batch.examples

    def _fit_standardisation(self, examples: list[LinkExample]) -> None:
        """Fit the rejection head's input standardisation on all candidate rows."""
        if self.scorer is None or self.scorer_trained or bool(self.scorer.fitted):
            return
        rows = [e for e in examples if e.candidate]
        if len(rows) < 2:
            return
        with torch.no_grad():
            feats = self._scorer_features(self.collate(rows), list(range(len(rows))))
            self.scorer.fit_standardisation(self.scorer.inputs(*feats))

    def _scorer_features(self, batch: LinkBatch, rows: list[int],
                         encoded: tuple[Tensor, Tensor] | None = None
                         ) -> tuple[Tensor, Tensor, Tensor]:
        dev = self.context_model.device
        m, w = encoded if encoded is not None else self._encode_batch(batch)
        q = self.context_model.model.project(m[rows])
        ex = [batch.examples[i] for i in rows]
        mentions = [Mention(0, e.n_tokens - 1, 0, 0, e.kind, e.ner_cuis, gen_sim=e.gen_sim,
                            hidden_targets=e.hidden_targets) for e in ex]
        _, s1, s2 = self.link(q.detach(), mentions)
        scal = scalar_features(
            s1, s2, torch.tensor([e.gen_sim for e in ex]), torch.tensor([e.kind for e in ex]),
            torch.tensor([e.n_tokens for e in ex]), torch.tensor([e.upper for e in ex])).to(dev)
        return q, F.normalize(w[rows].float(), dim=-1), scal

    def collate(self, items: Sequence[LinkExample | TagExample]) -> LinkBatch:
        links = [e for e in items if isinstance(e, LinkExample)]
        tags = [e for e in items if isinstance(e, TagExample)]
        return LinkBatch(torch.tensor([e.row for e in links], dtype=torch.long), links, tags)

    def _name_vectors(self) -> Tensor:
        """Pooled (pre-projection) encodings of all targets; cached while the LM is frozen."""
        if self._name_pooled is None or self._name_pooled.shape[0] != len(self.index):
            self._name_pooled = super().pooled_names()
        return self._name_pooled

    def pooled_names(self) -> Tensor:
        return self._name_vectors() if self.lm_frozen else super().pooled_names()

    def _refresh_index_embeddings(self) -> None:
        if self.lm_frozen:
            with torch.inference_mode():
                emb = self.context_model.project(self._name_vectors()).cpu()
            self.index.embeddings = emb.to(torch.float16)
        else:
            self.refresh_names(full=True)
            self._gen_names = None

    def _encode_batch(self, batch: LinkBatch) -> tuple[Tensor, Tensor]:
        dev = self.context_model.device
        if self.lm_frozen:
            mention, window = self._cached_features()
            return mention[batch.rows].to(dev), window[batch.rows].to(dev)
        m, w = self._pool_examples(batch.examples, grad=torch.is_grad_enabled())
        return m.to(dev), w.to(dev)

    def _tagger_loss(self, tags: list[TagExample]) -> Tensor:
        assert self.tagger is not None
        dev = self.context_model.device
        states, labels = [], []
        for t in tags:
            if t.states is not None:
                states.append(t.states.to(dev).float())
            else:
                states.append(self.context_model.encode_document(
                    t.text, grad=torch.is_grad_enabled()).states.to(dev))
            labels.append(t.labels.to(dev))
        logits = torch.cat(self.tagger.forward_many(states))
        return F.cross_entropy(logits, torch.cat(labels))

    def forward(self, batch: LinkBatch) -> Tensor:
        """Scalar loss (contrastive + weighted rejection BCE + weighted tagger CE) of a batch."""
        model = self.context_model.model
        dev = self.context_model.device
        if self._steps % 20 == 0:
            self._refresh_index_embeddings()
        if torch.is_grad_enabled():
            if self.scorer is not None and not self.scorer_trained:
                self._fit_standardisation(self._training_set_of(batch))
            self._steps += 1
            self._stale = True
            self.scorer_trained = True
        ex = batch.examples
        loss = torch.zeros((), device=dev)
        gold_rows = [i for i, e in enumerate(ex) if e.gold_cui is not None]
        cand_rows = [i for i, e in enumerate(ex) if e.candidate]
        m, w = self._encode_batch(batch) if ex else (torch.zeros(0), torch.zeros(0))
        if gold_rows:
            q = model.project(m[gold_rows])
            loss = loss + self._contrastive(q, [ex[i].gold_cui or "" for i in gold_rows],
                                            [ex[i].hidden_targets for i in gold_rows])
        if cand_rows and self.scorer is not None:
            feats = self._scorer_features(batch, cand_rows, (m, w))
            logits = self.scorer(*feats)
            labels = torch.tensor([ex[i].label for i in cand_rows], device=dev)
            loss = loss + self.cnf.rejection_loss_weight * F.binary_cross_entropy_with_logits(
                logits, labels)
        if batch.tags and self.tagger is not None and self.cnf.use_tagger:
            if torch.is_grad_enabled():
                self.tagger_trained = True
            loss = loss + self.cnf.tagger_loss_weight * self._tagger_loss(batch.tags)
        return loss

    def _contrastive(self, q: Tensor, gold: list[str],
                     hidden: Sequence[frozenset[int]] | None = None) -> Tensor:
        dev = q.device
        idx = self.index
        with torch.no_grad():
            pool_k = max(self.cnf.negative_sampling_candidate_pool_size,
                         self.cnf.negative_sampling_k + 1)
            _, top = idx.topk(q.detach().cpu(), pool_k, self.cnf.name_chunk_size)
        rows: list[list[int]] = []
        positives: list[int] = []
        for r, cui in enumerate(gold):
            pos_targets = idx.cui_targets[cui]
            if hidden is not None and hidden[r]:
                # a mention simulating unseen text learns to match its concept's other names
                pos_targets = [t for t in pos_targets if t not in hidden[r]] or pos_targets
            if len(pos_targets) == 1:
                pos = pos_targets[0]
            else:
                pt = torch.tensor(pos_targets, dtype=torch.long)
                sims = idx.embeddings[pt].float() @ q[r].detach().float().cpu()
                pos = pos_targets[int(torch.argmax(sims))]
            positives.append(pos)
            negs = [t for t in top[r].tolist() if cui not in idx.target_cuis[t]]
            rows.append([pos] + negs[: self.cnf.negative_sampling_k])
        for r, cui in enumerate(gold):  # in-batch negatives: other rows' positives
            extra = [p for p in positives if cui not in idx.target_cuis[p] and p not in rows[r]]
            rows[r] += sorted(set(extra))
        width = max(len(r) for r in rows)
        tgt = torch.zeros(len(rows), width, dtype=torch.long)
        valid = torch.zeros(len(rows), width, dtype=torch.bool)
        for r, lst in enumerate(rows):
            tgt[r, :len(lst)] = torch.tensor(lst, dtype=torch.long)
            valid[r, :len(lst)] = True
        uniq, inv = torch.unique(tgt, return_inverse=True)
        if self.lm_frozen:
            tv = self.context_model.model.project(self._name_vectors()[uniq].to(dev))
        else:
            tv = idx.embeddings[uniq].float().to(dev)
        logits = target_logits(q, tv, inv.to(dev)) / self.cnf.temperature
        logits = logits.masked_fill(~valid.to(dev), float("-inf"))
        return F.cross_entropy(logits, torch.zeros(len(rows), dtype=torch.long, device=dev))

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        params = [p for p in self.context_model.model.parameters() if p.requires_grad]
        if self.scorer is not None:
            params += list(self.scorer.parameters())
        if self.tagger is not None and self.cnf.use_tagger:
            params += list(self.tagger.parameters())
        return params

    def configure_optimizer(self, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        """AdamW over trainable parameters only; unfrozen LM layers use ``lm_learning_rate``."""
        lm_params = [p for p in self.context_model.model.language_model.parameters()
                     if p.requires_grad]
        lm_ids = {id(p) for p in lm_params}
        head = [p for p in self.trainable_parameters() if id(p) not in lm_ids]
        groups: list[dict[str, Any]] = [{"params": head, "lr": lr}]
        if lm_params:
            groups.append({"params": lm_params, "lr": self.cnf.lm_learning_rate})
        return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)

    def trainable_state_dict(self) -> dict[str, Any]:
        weights = self.trained_state()
        if self.tagger is not None:  # also while untrained: resume must restore it exactly
            weights.update({f"tagger.{k}": v.detach().cpu().clone()
                            for k, v in self.tagger.state_dict().items()})
        return {"weights": weights, "scorer_trained": self.scorer_trained,
                "tagger_trained": self.tagger_trained, "steps": self._steps}

    def load_trainable_state_dict(self, sd: dict[str, Any]) -> None:
        weights: dict[str, Tensor] = sd["weights"]
        model_sd = {k[6:]: v for k, v in weights.items() if k.startswith("model.")}
        self.context_model.model.load_state_dict(model_sd, strict=False)
        if self.scorer is not None:
            self.scorer.load_state_dict(
                {k[7:]: v for k, v in weights.items() if k.startswith("scorer.")})
        tagger_sd = {k[7:]: v for k, v in weights.items() if k.startswith("tagger.")}
        if self.tagger is not None and tagger_sd:
            self.tagger.load_state_dict(tagger_sd)
        self.scorer_trained = bool(sd.get("scorer_trained", False))
        self.tagger_trained = bool(sd.get("tagger_trained", False)) and bool(tagger_sd)
        self._steps = int(sd.get("steps", 0))
        self._refresh_index_embeddings()

    def train_mode(self, mode: bool) -> None:
        self.context_model.model.train(mode)
        if self.scorer is not None:
            self.scorer.train(mode)
        if self.tagger is not None:
            self.tagger.train(mode)

    def on_train_end(self) -> None:
        """Mark the head trained, re-embed all names, back to eval mode."""
        self.scorer_trained = True
        self.train_mode(False)
        self._refresh_index_embeddings()
        self._stale = False
        self._name_pooled = None if not self.lm_frozen else self._name_pooled

    def evaluate_export(self, export: dict[str, Any]) -> dict[str, float]:
        """Strict / lenient P, R, F1 (+ tp/fp/fn) of this linker on an export."""
        docs = parse_export(export, None, require_annotations=False)
        gold, pred = self._predict_export(docs)
        return span_metrics(gold, pred)

    def _predict_export(self, docs: list[ExportDoc]) -> tuple[list[Span], list[Span]]:
        self.train_mode(False)
        self._before_inference()
        gold: list[Span] = []
        pred: list[Span] = []
        for i, d in enumerate(tqdm(docs, desc="Evaluating", leave=False)):
            gold += [(i, s, e, c) for s, e, c in d.annotations]
            doc = self.ner_doc(d.text)
            ents = self.predict_entities(doc, list(doc.ner_ents))
            pred += [(i, e.base.start_char_index, e.base.end_char_index, e.cui) for e in ents]
        return gold, pred

    def as_trainable(self) -> TrainableLinkerAdapter:
        from medcat_den.linking.trainable_adapter import TrainableLinkerAdapter
        return TrainableLinkerAdapter(self)

    # ---------------------------------------------------------------- fit
    def fit(self, train_export: dict[str, Any], eval_export: dict[str, Any] | None = None,
            epochs: int | None = None, learning_rate: float | None = None,
            weight_decay: float | None = None, batch_size: int | None = None,
            top_n_layers_to_unfreeze: int | None = None,
            calibrate_threshold: bool = False) -> dict[str, float]:
        """Train on ``train_export`` with :class:`~medcat_den.training.Trainer` (the one
        training loop); returns losses and (with ``eval_export``) metrics.

        ``calibrate_threshold`` holds out every ``calibration_every``-th training document
        (never ``eval_export``, so reported metrics are not tuned on the split they are
        measured on), trains on the rest and picks the rejection threshold maximising strict
        F1 on the held-out documents.
        """
        cnf = self.cnf
        if top_n_layers_to_unfreeze is not None:
            cnf.top_n_layers_to_unfreeze = top_n_layers_to_unfreeze
            self.context_model.model.unfreeze_top_n_lm_layers(top_n_layers_to_unfreeze)
        if cnf.top_n_layers_to_unfreeze != self.context_model.model.top_n_layers_to_unfreeze:
            self.context_model.model.unfreeze_top_n_lm_layers(cnf.top_n_layers_to_unfreeze)
        epochs = cnf.epochs if epochs is None else epochs
        lr = cnf.learning_rate if learning_rate is None else learning_rate
        wd = cnf.weight_decay if weight_decay is None else weight_decay
        bs = cnf.training_batch_size if batch_size is None else batch_size
        if epochs < 1 or bs < 1 or lr <= 0:
            raise TrainingError("epochs and batch size must be >= 1 and learning rate > 0")
        # the linker's own checks first: they name the problem in the linker's terms
        parse_export(train_export, self.cdb.cui2info,
                     max_unknown_fraction=cnf.max_unknown_cui_fraction)
        calib: dict[str, Any] | None = None
        seen: set[str] | None = None
        if calibrate_threshold:
            train_export, calib = split_for_calibration(train_export, self.cnf.calibration_every)
            seen = (surface_forms(parse_export(train_export, None))
                    if cnf.calibration_hides_unseen_names else None)
        # one training loop for every entry point: the same Trainer the jobs, the caikit
        # trainer and the Ray trainer drive. Constant LR, no clipping and the mean of the
        # last epochs' weights: the settings this linker's defaults were chosen with.
        config = TrainerConfig.from_any({
            "epochs": epochs, "batch_size": bs, "learning_rate": lr, "weight_decay": wd,
            "lr_schedule": "constant", "max_grad_norm": None, "seed": cnf.seed,
            "eval_each_epoch": False, "checkpoint_each_epoch": False,
            "average_weights_after": cnf.average_weights_after})
        adapter = self.as_trainable()
        trainer = Trainer(adapter, config, progress=False,
                          callbacks=[ProgressCallback(desc="Training linker")])
        with self._step_threads():
            trained = trainer.fit(train_export)
        losses = _epoch_losses(trained.history, epochs)
        n_rows = adapter.examples_prepared
        result = {"loss_first_epoch": losses[0], "loss_last_epoch": losses[-1],
                  "train_rows": float(n_rows)}
        if calib is not None:
            result["rejection_threshold"] = self.calibrate_threshold(calib, seen)
        if eval_export is not None:
            result.update(self.evaluate_export(eval_export))
        return result

    @contextlib.contextmanager
    def _step_threads(self) -> Iterator[None]:
        """Fewer torch threads for frozen-LM steps on CPU (tiny tensors; threads only contend)."""
        n = self.cnf.training_num_threads
        if n <= 0 or not self.lm_frozen or self.context_model.device.type != "cpu":
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def calibrate_threshold(self, export: dict[str, Any], seen: set[str] | None = None) -> float:
        """Set ``rejection_threshold`` to the value maximising strict F1 on ``export``.

        With ``seen`` (the training documents' mention surface forms), the CDB names only
        ``export``'s mentions use are hidden while calibrating, so that ``export`` behaves like
        unseen text (see :mod:`medcat_den.linking.calibration`). Candidates are encoded once;
        only the decision is repeated per threshold.
        """
        docs = parse_export(export, None, require_annotations=False)
        self.train_mode(False)
        hidden = set() if seen is None else unseen_names(docs, seen, self._dictionary_names)
        index = copy.copy(self.index)
        try:
            with names_hidden(self.cdb, hidden) as n_hidden:
                logger.info("calibrating on %d documents, %d names only they use hidden",
                            len(docs), n_hidden)
                self._before_inference()
                return self._best_threshold(docs)
        finally:
            self.index = index  # the copy: restored names need no re-embedding
            self._generator, self._gen_names = None, None

    def _dictionary_names(self, text: str) -> list[tuple[int, int, str]]:
        doc = self.ner_doc(text)
        return [(e.base.start_char_index, e.base.end_char_index, e.detected_name)
                for e in doc.ner_ents]

    def _best_threshold(self, docs: list[ExportDoc]) -> float:
        encoded = []
        for d in tqdm(docs, desc="Encoding calibration documents", leave=False):
            doc = self.ner_doc(d.text)
            mentions = self.candidates(doc, list(doc.ner_ents))
            encoded.append((d, doc, mentions, covered_spans(mentions, list(doc.ner_ents)),
                            *self.encode_mentions(doc, mentions)))
        gold = [(i, s, e, c) for i, d in enumerate(docs) for s, e, c in d.annotations]
        best_t, best_f = self.cnf.rejection_threshold, -1.0
        for t in REJECTION_THRESHOLDS:
            self.cnf.rejection_threshold = t
            pred: list[Span] = []
            for i, (d, doc, mentions, considered, m, w) in enumerate(encoded):
                if not mentions:
                    continue
                cuis, s1, prob = self.decide(d.text, mentions, m, w)
                chosen = [(mm, c, s, p) for mm, c, s, p in
                          zip(mentions, cuis, s1.tolist(), prob.tolist(), strict=True)
                          if c is not None and p == p]
                pred += [(i, e.base.start_char_index, e.base.end_char_index, e.cui)
                         for e in self._select(doc, chosen, considered)]
            f = span_metrics(gold, pred)["f1"]
            logger.info("rejection threshold %.3f: strict F1 %.4f", t, f)
            if f > best_f:
                best_t, best_f = t, f
        self.cnf.rejection_threshold = best_t
        return best_t

    # ------------------------------------------------------ MedCAT's hook
    def train_supervised_batch(self, examples: list[TrainingExample]) -> None:
        """MedCAT trainer hook: queue the document's examples, step on full batches."""
        if not examples:
            return
        doc = examples[0].doc
        gold = {(e.entity.base.start_char_index, e.entity.base.end_char_index): e.cui
                for e in examples if not e.negative}
        negs = [(e.entity.base.start_char_index, e.entity.base.end_char_index)
                for e in examples if e.negative]
        self.refresh_names()
        fresh = self.ner_doc(doc.base.text)
        rows = self._doc_examples(fresh, gold, negs)
        self._add_features(rows)
        self._pending += rows
        while len(self._pending) >= self.cnf.training_batch_size:
            self._hook_step(self._pending[: self.cnf.training_batch_size])
            self._pending = self._pending[self.cnf.training_batch_size:]

    def train_unsupervised(self, doc: Any) -> None:
        """No unsupervised training for the embedding linker."""

    def _hook_step(self, rows: list[LinkExample]) -> None:
        if self._hook_optimizer is None:
            self._hook_optimizer = self.configure_optimizer(self.cnf.learning_rate,
                                                            self.cnf.weight_decay)
        self.train_mode(True)
        self._hook_optimizer.zero_grad()
        loss = self.forward(self.collate(rows))
        if loss.requires_grad:
            loss.backward()  # type: ignore[no-untyped-call]
            self._hook_optimizer.step()
        self._hook_trained = True
        self.train_mode(False)

    def flush(self) -> None:
        """Train on queued examples and finish training (re-embed names)."""
        if self._pending:
            self._hook_step(self._pending)
            self._pending = []
        if self._hook_trained:
            self._hook_trained = False
            self.on_train_end()

    def _before_inference(self) -> None:
        if not self.cnf.train and (self._pending or self._hook_trained):
            self.flush()
        if self._stale:  # mid-training evaluation: names must match the current weights
            self._refresh_index_embeddings()
            self._stale = False
        super()._before_inference()

    def set_device(self, device: str) -> None:
        """Move the encoder, projection and rejection head to ``device`` (``auto``: GPU if any)."""
        from medcat_den.linking.context_model import resolve_device

        dev = resolve_device(device)
        self.cnf.device = device
        self.context_model.device = dev
        self.context_model.model.to(dev)
        if self.scorer is not None:
            self.scorer.to(dev)
        if self.tagger is not None:
            self.tagger.to(dev)

    def _before_save(self) -> None:
        self.flush()
