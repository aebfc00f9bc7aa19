"""``ContextModel``: tokenizer + :class:`ModelForEmbeddingLinking` on one device.

Turns mention character spans into token masks through the fast tokenizer's
offset mapping and embeds texts in length-sorted batches (little padding) with
a tqdm progress bar. Config keys used: ``max_token_length``,
``max_context_tokens``, ``embedding_batch_size``, ``use_mention_attention``,
``use_projection_layer``, ``top_n_layers_to_unfreeze``, ``device``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm
from transformers import AutoTokenizer

from medcat_den.errors import ConfigError
from medcat_den.linking.config import EmbeddingLinkingConfig
from medcat_den.linking.embedding_model import ModelForEmbeddingLinking
from medcat_den.linking.mention_tagger import (
    DocStates,
    chunk_inputs,
    merge_chunks,
    resolve_layers,
)
from medcat_den.linking.model_ref import ModelRef

logger = logging.getLogger(__name__)


@contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[None]:
    """``module`` in eval mode for the block, its mode restored after; nothing is
    toggled when it already is in eval mode (a toggle walks every submodule: ~1 ms per
    call for MiniLM, paid on every document)."""
    if not module.training:
        yield
        return
    module.eval()
    try:
        yield
    finally:
        module.train(True)


def resolve_device(name: str) -> torch.device:
    """``auto``: the GPU if torch sees one. A pack trained on a GPU names ``cuda``; on a
    machine without one it loads on the CPU (with a warning) rather than failing."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"invalid linker device {name!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        logger.warning("linker device %r is not available here; using the CPU", name)
        return torch.device("cpu")
    return dev


def bf16_native(device: torch.device) -> bool:
    """Whether the device has native bfloat16 matmuls (AVX512-BF16 / AMX, or a bf16 GPU)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check()) if callable(check) else False


def inference_dtype(setting: str, device: torch.device) -> torch.dtype | None:
    """The reduced dtype for no-grad encoding (None: plain float32)."""
    if setting == "float32":
        return None
    if setting == "bfloat16":
        return torch.bfloat16
    if setting == "auto":
        return torch.bfloat16 if bf16_native(device) else None
    raise ConfigError(f"encoder_dtype must be auto, bfloat16 or float32, got {setting!r}")


class ContextModel:
    """Embeds names and mentions-in-context (see module docstring)."""

    def __init__(self, ref: ModelRef, cnf: EmbeddingLinkingConfig) -> None:
        self.ref = ref
        self.cnf = cnf
        path = ref.load_path()
        self.tokenizer: Any = AutoTokenizer.from_pretrained(path)
        if not getattr(self.tokenizer, "is_fast", False):
            raise ConfigError(f"embedding model {path!r} needs a fast tokenizer (offsets)")
        self.model = ModelForEmbeddingLinking(
            path, cnf.use_projection_layer, cnf.top_n_layers_to_unfreeze)
        self.device = resolve_device(cnf.device)
        self.model.to(self.device)
        self.model.eval()
        inference_dtype(cnf.encoder_dtype, self.device)  # validate early
        self._infer_lm: Any = None
        self._infer_key: tuple[Any, ...] = ()
        self._doc_cache: tuple[tuple[str, tuple[Any, ...]], DocStates] | None = None
        self._lm_parameters: tuple[Any, tuple[torch.nn.Parameter, ...]] | None = None

    def inference_language_model(self) -> Any:
        """The encoder used for no-grad encoding: a reduced-precision copy when configured.

        Autocast would re-cast every frozen weight on every call (frozen weights are
        not in its cast cache); a copy converted once is ~20% faster on CPU. The copy
        is rebuilt whenever a weight changed (optimizer step, load, device move):
        its key holds each parameter's storage and in-place version counter.
        """
        lm = self.model.language_model
        dtype = inference_dtype(self.cnf.encoder_dtype, self.device)
        if dtype is None:
            self._infer_lm, self._infer_key = None, ()
            return lm
        key = (dtype, *self._weights_key())
        if self._infer_lm is None or key != self._infer_key:
            shadow = copy.deepcopy(lm).to(dtype).eval()
            for p in shadow.parameters():
                p.requires_grad = False
                p.grad = None  # deepcopy copies gradients of unfrozen layers too
            self._infer_lm, self._infer_key = shadow, key
        return self._infer_lm

    def tokenize(self, texts: Sequence[str], spans: Sequence[tuple[int, int]] | None,
                 max_length: int) -> dict[str, Tensor]:
        enc = self.tokenizer(list(texts), max_length=max_length, padding=True, truncation=True,
                             return_tensors="pt", return_offsets_mapping=spans is not None)
        out = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
        if spans is not None:
            offsets = enc["offset_mapping"]
            starts, ends = offsets[..., 0], offsets[..., 1]
            sp = torch.tensor(list(spans), dtype=torch.long)
            special = (starts == 0) & (ends == 0)
            overlap = (ends > sp[:, :1]) & (starts < sp[:, 1:])
            out["mention_mask"] = (overlap & ~special).long()
        return out

    def pooled(self, texts: Sequence[str], spans: Sequence[tuple[int, int]] | None = None,
               desc: str = "Embedding") -> tuple[Tensor, Tensor]:
        """(mention-pooled, window-pooled) vectors before projection, float32 on CPU."""
        n = len(texts)
        h = self.model.hidden_size
        mention_out = torch.zeros(n, h)
        window_out = torch.zeros(n, h)
        if n == 0:
            return mention_out, window_out
        use_spans = spans if (spans is not None and self.cnf.use_mention_attention) else None
        max_len = self.cnf.max_context_tokens if spans is not None else self.cnf.max_token_length
        order = sorted(range(n), key=lambda i: len(texts[i]))
        bs = max(1, self.cnf.embedding_batch_size)
        lm = self.inference_language_model()
        with eval_mode(lm), torch.inference_mode():
            for start in tqdm(range(0, n, bs), desc=desc, leave=False):
                idx = order[start:start + bs]
                chunk = [texts[i] for i in idx]
                chunk_spans = [use_spans[i] for i in idx] if use_spans else None
                batch = {k: v.to(self.device)
                         for k, v in self.tokenize(chunk, chunk_spans, max_len).items()}
                mention, window = self.model.encode(**batch, language_model=lm)
                ix = torch.tensor(idx)
                mention_out[ix] = mention.float().cpu()
                window_out[ix] = window.float().cpu()
        return mention_out, window_out

    def tagger_layers(self) -> list[int]:
        """Hidden-state indices the tagger reads (``tagger_layers``, resolved)."""
        return resolve_layers(self.cnf.tagger_layers,
                              int(self.model.language_model.config.num_hidden_layers))

    def tagger_input_size(self) -> int:
        return self.model.hidden_size * len(self.tagger_layers())

    def chunk_tokens(self) -> int:
        """Transformer tokens per document chunk: ``tagger_chunk_tokens``, capped by what
        the encoder's position embeddings allow."""
        limit = int(getattr(self.model.language_model.config, "max_position_embeddings", 512))
        return max(8, min(self.cnf.tagger_chunk_tokens, limit))

    def _weights_key(self) -> tuple[Any, ...]:
        """Each encoder parameter's storage and in-place version: changes with every
        optimizer step, load and device move. The parameter list is collected once per
        encoder (``parameters()`` walks every submodule, ~1 ms for MiniLM)."""
        lm = self.model.language_model
        if self._lm_parameters is None or self._lm_parameters[0] is not lm:
            self._lm_parameters = (lm, tuple(lm.parameters()))
        return tuple((p.data_ptr(), p._version) for p in self._lm_parameters[1])

    def encode_document(self, text: str, grad: bool = False) -> DocStates:
        """Token states of ``text``, encoded once in overlapping chunks: the
        ``tagger_layers`` concatenated (the tagger's input) and the last layer (mention
        vectors). Without ``grad``: float32 on CPU, and the last document's states are
        kept, so the tagger and the mention vectors of one document share one pass (until
        a weight changes). With ``grad``: on the device, through the trainable encoder."""
        key = () if grad else self._weights_key()
        if not grad and self._doc_cache is not None:
            (cached_text, cached_key), cached = self._doc_cache
            if cached_text == text and cached_key == key:
                return cached
        inputs, owned = chunk_inputs(self.tokenizer, text, self.chunk_tokens(),
                                     self.cnf.tagger_chunk_stride)
        offsets = inputs.pop("offset_mapping")
        batch = {k: v.to(self.device) for k, v in inputs.items()}
        layers = self.tagger_layers()

        def merged(out: Any) -> DocStates:
            tagger_in = torch.cat([out.hidden_states[i] for i in layers], dim=-1).float()
            return merge_chunks(tagger_in, out.hidden_states[-1].float(), offsets, owned)

        if grad:
            return merged(self.model.language_model(**batch, output_hidden_states=True))
        lm = self.inference_language_model()
        with eval_mode(lm), torch.inference_mode():
            out = merged(lm(**batch, output_hidden_states=True))
        states = DocStates(out.offsets, out.states.cpu(), out.last.cpu())
        self._doc_cache = ((text, key), states)
        return states

    def project(self, pooled: Tensor, grad: bool = False) -> Tensor:
        with torch.set_grad_enabled(grad):
            return self.model.project(pooled.to(self.device))

    def embed_names(self, names: Sequence[str], desc: str = "Embedding names") -> Tensor:
        """L2-normalised, projected name embeddings (float32, CPU)."""
        pooled, _ = self.pooled(names, None, desc=desc)
        with torch.inference_mode():
            return self.project(pooled).cpu()
