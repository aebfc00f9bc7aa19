"""``MentionTagger``: learned mention detection (BIO over the encoder's token states).

A document is encoded once, in chunks of ``tagger_chunk_tokens`` transformer tokens
overlapping by ``tagger_chunk_stride`` (each token keeps the state from the chunk where
it is farther from an edge). A small MLP labels each token O / B / I; consecutive B/I
tokens form a span, snapped outwards to MedCAT token boundaries. Spans whose mean label
probability is below ``tagger_threshold`` are dropped. The linker then treats the spans
the dictionary did not propose like any candidate: linked by embedding similarity over
all names and accepted or rejected by the rejection head.

Config keys used: ``tagger_chunk_tokens``, ``tagger_chunk_stride``, ``tagger_threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from medcat_den.errors import TrainingError

O_TAG, B_TAG, I_TAG = 0, 1, 2


@dataclass
class DocStates:
    """Token-level encoder states of one document: char offsets (n, 2) and states (n, h)."""

    offsets: Tensor
    states: Tensor


class MentionTagger(nn.Module):
    """Token classifier O/B/I over encoder states (see module docstring).

    A convolution over ``2 * context + 1`` neighbouring token states feeds an MLP, so
    span boundaries can be read from the neighbours (the states of one document, in
    order; call it once per document).
    """

    def __init__(self, hidden: int, width: int = 256, context: int = 2) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(0.1)
        self.conv = nn.Conv1d(hidden, width, 2 * context + 1, padding=context)
        self.out = nn.Sequential(nn.GELU(), nn.Linear(width, 3))

    def forward(self, states: Tensor) -> Tensor:
        """(n, hidden) states of one document → (n, 3) O/B/I logits."""
        x = self.drop(self.norm(states))
        h = self.conv(x.T.unsqueeze(0)).squeeze(0).T
        out: Tensor = self.out(h)
        return out


def chunk_inputs(tokenizer: Any, text: str, max_tokens: int, stride: int
                 ) -> tuple[dict[str, Tensor], list[tuple[int, int]]]:
    """Tokenised chunks of ``text`` and, per chunk, the token rows [lo, hi) it owns."""
    enc = tokenizer(text, max_length=max_tokens, truncation=True, stride=stride,
                    return_overflowing_tokens=True, return_offsets_mapping=True,
                    padding=True, return_tensors="pt")
    n = enc["input_ids"].shape[0]
    owned: list[tuple[int, int]] = []
    half = stride // 2
    for c in range(n):
        special = (enc["offset_mapping"][c, :, 0] == 0) & (enc["offset_mapping"][c, :, 1] == 0)
        real = (~special & enc["attention_mask"][c].bool()).nonzero().flatten().tolist()
        if not real:
            owned.append((0, 0))
            continue
        lo, hi = real[0], real[-1] + 1
        if c > 0:
            lo += half
        if c < n - 1:
            hi -= stride - half
        owned.append((lo, max(lo, hi)))
    inputs = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
              "offset_mapping": enc["offset_mapping"]}
    return inputs, owned


def merge_chunks(hidden: Tensor, offsets: Tensor, owned: Sequence[tuple[int, int]]
                 ) -> DocStates:
    """One row per document token from chunked encoder output (owned rows only)."""
    rows = [hidden[c, lo:hi] for c, (lo, hi) in enumerate(owned)]
    offs = [offsets[c, lo:hi] for c, (lo, hi) in enumerate(owned)]
    h = hidden.shape[-1]
    if not rows:
        return DocStates(torch.zeros(0, 2, dtype=torch.long), torch.zeros(0, h))
    return DocStates(torch.cat(offs).long(), torch.cat(rows))


def bio_labels(offsets: Tensor, spans: Sequence[tuple[int, int]]) -> Tensor:
    """O/B/I label per token for non-overlapping character ``spans``."""
    labels = torch.zeros(offsets.shape[0], dtype=torch.long)
    starts, ends = offsets[:, 0], offsets[:, 1]
    for s, e in spans:
        inside = ((ends > s) & (starts < e)).nonzero().flatten()
        if inside.numel():
            labels[inside] = I_TAG
            labels[inside[0]] = B_TAG
    return labels


def check_spans(spans: Sequence[tuple[int, int]], text_len: int, where: str) -> None:
    """Gold spans for the tagger must be in range and must not overlap."""
    last_end, last = -1, None
    for s, e in sorted(spans):
        if not 0 <= s < e <= text_len:
            raise TrainingError(f"{where}: span [{s}, {e}) is out of range for a text of "
                                f"{text_len} characters")
        if s < last_end:
            raise TrainingError(f"{where}: annotations {last} and [{s}, {e}) overlap; "
                                "mention detection needs non-overlapping spans")
        last_end, last = e, f"[{s}, {e})"


def decode(probs: Tensor, offsets: Tensor, threshold: float) -> list[tuple[int, int, float]]:
    """Character spans (start, end, mean label probability) from per-token O/B/I probs."""
    tags = probs.argmax(dim=1).tolist()
    out: list[tuple[int, int, float]] = []
    cur: list[int] = []

    def close() -> None:
        if cur:
            p = float(probs[torch.tensor(cur), torch.tensor([tags[i] for i in cur])].mean())
            if p >= threshold:
                out.append((int(offsets[cur[0], 0]), int(offsets[cur[-1], 1]), p))
            cur.clear()

    for i, t in enumerate(tags):
        if t == B_TAG or (t == I_TAG and not cur):
            close()
            cur.append(i)
        elif t == I_TAG:
            cur.append(i)
        else:
            close()
    close()
    return out
