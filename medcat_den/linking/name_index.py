"""``NameIndex``: the linking targets (names or one name per CUI) and their embeddings.

Scoring is a chunked matmul + running top-k (``name_chunk_size`` names per
chunk), so memory stays bounded whatever the number of names (no full sort).
Targets are sorted, so their order and the name chosen per CUI (longest, then
alphabetical) do not depend on set iteration order. ``sync`` embeds only names
that were added to the CDB since the last embedding.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from medcat_den.errors import InvalidPackError

logger = logging.getLogger(__name__)

KEYS_FILE = "targets.json"
EMB_FILE = "target_embeddings.safetensors"


def preferred_name(names: Sequence[str]) -> str:
    return max(names, key=lambda n: (len(n), n)) if names else ""


class NameIndex:
    """Targets, target → CUIs, and an embedding matrix (see module docstring)."""

    def __init__(self, on_names: bool, separator: str) -> None:
        self.on_names = on_names
        self.separator = separator
        self.keys: list[str] = []
        self.texts: list[str] = []
        self.target_cuis: list[list[str]] = []
        self.cui_targets: dict[str, list[int]] = {}
        self.embeddings = torch.zeros(0, 0)
        self._allowed_cache: tuple[Any, Tensor] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def _targets_from_cdb(self, cdb: Any) -> tuple[list[str], list[str], list[list[str]]]:
        if self.on_names:
            keys = sorted(n for n, info in cdb.name2info.items() if info["per_cui_status"])
            texts = [k.replace(self.separator, " ") for k in keys]
            cuis = [sorted(cdb.name2info[k]["per_cui_status"]) for k in keys]
        else:
            keys = sorted(c for c, info in cdb.cui2info.items() if info["names"])
            texts = [preferred_name(sorted(cdb.cui2info[c]["names"])).replace(self.separator, " ")
                     for c in keys]
            cuis = [[c] for c in keys]
        return keys, texts, cuis

    def is_stale(self, cdb: Any) -> bool:
        n = len(cdb.name2info) if self.on_names else len(cdb.cui2info)
        return n != len(self.keys) or self.embeddings.shape[0] != len(self.keys)

    def sync(self, cdb: Any, embed: Callable[[list[str]], Tensor], full: bool = False) -> int:
        """Match the CDB; embed new targets (all when ``full``). Returns #embedded."""
        keys, texts, cuis = self._targets_from_cdb(cdb)
        old = {k: i for i, k in enumerate(self.keys)} if not full else {}
        have = self.embeddings.shape[0] == len(self.keys) and len(self.keys) > 0
        todo = [i for i, k in enumerate(keys) if not have or k not in old]
        new_emb = embed([texts[i] for i in todo]) if todo else torch.zeros(0, 0)
        dim = new_emb.shape[1] if todo else self.embeddings.shape[1]
        emb = torch.zeros(len(keys), dim, dtype=torch.float32)
        if have and len(todo) < len(keys):
            keep = [i for i, k in enumerate(keys) if k in old]
            emb[torch.tensor(keep, dtype=torch.long)] = self.embeddings[
                torch.tensor([old[keys[i]] for i in keep], dtype=torch.long)].float()
        if todo:
            emb[torch.tensor(todo, dtype=torch.long)] = new_emb.float()
        self.keys, self.texts, self.target_cuis = keys, texts, cuis
        self.embeddings = emb.to(torch.float16)
        self.cui_targets = {}
        for i, cs in enumerate(cuis):
            for c in cs:
                self.cui_targets.setdefault(c, []).append(i)
        self._allowed_cache = None
        if todo:
            logger.info("Embedded %d of %d linking targets", len(todo), len(keys))
        return len(todo)

    def allowed_mask(self, filters: Any) -> Tensor | None:
        """Bool mask of targets with at least one CUI passing the linking filters."""
        key = (frozenset(filters.cuis), frozenset(filters.cuis_exclude))
        if not key[0] and not key[1]:
            return None
        if self._allowed_cache is not None and self._allowed_cache[0] == key:
            return self._allowed_cache[1]
        mask = torch.tensor([any(filters.check_filters(c) for c in cs)
                             for cs in self.target_cuis], dtype=torch.bool)
        self._allowed_cache = (key, mask)
        return mask

    def topk(self, queries: Tensor, k: int, chunk_size: int,
             allowed: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Top-``k`` (scores, target indices) per query row; chunked, bounded memory."""
        return chunked_topk(queries, self.embeddings, k, chunk_size, allowed)

    def best_among(self, query: Tensor, cuis: Sequence[str]) -> tuple[str, float] | None:
        """Best (CUI, similarity) for one query among the targets of ``cuis``."""
        idx = sorted({t for c in cuis for t in self.cui_targets.get(c, [])})
        if not idx:
            return None
        scores = self.embeddings[torch.tensor(idx, dtype=torch.long)].float() @ query.float()
        pos = int(torch.argmax(scores))
        allowed = set(cuis)
        cui = next(c for c in self.target_cuis[idx[pos]] if c in allowed)
        return cui, float(scores[pos])

    def cui_of(self, target: int, allowed: Callable[[str], bool] | None = None) -> str | None:
        for c in self.target_cuis[target]:
            if allowed is None or allowed(c):
                return c
        return None

    def save(self, folder: str) -> None:
        with open(os.path.join(folder, KEYS_FILE), "w", encoding="utf-8") as f:
            json.dump({"on_names": self.on_names, "keys": self.keys}, f)
        save_file({"embeddings": self.embeddings.contiguous()}, os.path.join(folder, EMB_FILE))

    def load(self, folder: str, cdb: Any) -> None:
        """Load saved embeddings; targets are rebuilt from the CDB (``sync`` fills gaps)."""
        try:
            with open(os.path.join(folder, KEYS_FILE), encoding="utf-8") as f:
                data = json.load(f)
            emb = load_file(os.path.join(folder, EMB_FILE))["embeddings"]
        except (OSError, ValueError, KeyError) as err:
            raise InvalidPackError(f"linker target index in {folder!r} is unreadable: {err}") \
                from err
        if bool(data["on_names"]) != self.on_names or len(data["keys"]) != emb.shape[0]:
            raise InvalidPackError(f"linker target index in {folder!r} does not match config")
        self.keys = list(data["keys"])
        self.embeddings = emb
        self.texts = []
        self.target_cuis = []


def chunked_topk(queries: Tensor, matrix: Tensor, k: int, chunk_size: int,
                 allowed: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Top-``k`` of ``queries @ matrix.T`` per row, ``chunk_size`` rows of ``matrix`` at a time.

    Peak extra memory is about ``len(queries) * chunk_size`` floats plus one
    float32 copy of a chunk, whatever ``len(matrix)`` is.
    """
    m, n = queries.shape[0], matrix.shape[0]
    k = max(1, min(k, n)) if n else 1
    best_s = torch.full((m, k), float("-inf"))
    best_i = torch.zeros((m, k), dtype=torch.long)
    if n == 0 or m == 0:
        return best_s, best_i
    q = queries.float()
    for start in range(0, n, chunk_size):
        block = matrix[start:start + chunk_size].float()
        s = q @ block.T
        if allowed is not None:
            s.masked_fill_(~allowed[start:start + chunk_size].unsqueeze(0), float("-inf"))
        cs, ci = torch.topk(s, min(k, s.shape[1]), dim=1)
        all_s = torch.cat([best_s, cs], dim=1)
        all_i = torch.cat([best_i, ci + start], dim=1)
        best_s, pos = torch.topk(all_s, k, dim=1)
        best_i = torch.gather(all_i, 1, pos)
        del s, block
    return best_s, best_i
