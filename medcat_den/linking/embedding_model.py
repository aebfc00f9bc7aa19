"""``ModelForEmbeddingLinking``: a Hugging Face encoder, pooling, projection, L2 norm.

Config keys used (from :class:`EmbeddingLinkingConfig`): ``use_projection_layer``,
``top_n_layers_to_unfreeze``. The projection is initialised to the identity, so
an untrained trainable linker predicts exactly like the static one and nothing
random ever needs saving.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import AutoModel

from medcat_den.errors import ConfigError


def masked_mean(hidden: Tensor, mask: Tensor) -> Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)


class ModelForEmbeddingLinking(nn.Module):
    """Encoder + masked mean pooling + optional projection + L2 normalisation."""

    def __init__(self, model_path: str, use_projection_layer: bool = False,
                 top_n_layers_to_unfreeze: int = 0) -> None:
        super().__init__()
        self.language_model: Any = AutoModel.from_pretrained(model_path)
        hidden = int(self.language_model.config.hidden_size)
        self.hidden_size = hidden
        self.projection: nn.Linear | None = None
        if use_projection_layer:
            self.projection = nn.Linear(hidden, hidden)
            with torch.no_grad():
                self.projection.weight.copy_(torch.eye(hidden))
                self.projection.bias.zero_()
        self.top_n_layers_to_unfreeze = 0
        self.unfreeze_top_n_lm_layers(top_n_layers_to_unfreeze)

    def lm_layers(self) -> nn.ModuleList:
        lm = self.language_model
        for owner in ("encoder", "transformer"):
            sub = getattr(lm, owner, None)
            layers = getattr(sub, "layer", None)
            if isinstance(layers, nn.ModuleList):
                return layers
        raise ConfigError(
            f"cannot unfreeze layers of {type(lm).__name__}: not a BERT-family encoder")

    def unfreeze_top_n_lm_layers(self, n: int) -> None:
        """Freeze the LM except its top ``n`` layers (``-1``: all, ``0``: none)."""
        if n < -1:
            raise ConfigError(f"top_n_layers_to_unfreeze must be >= -1, got {n}")
        for p in self.language_model.parameters():
            p.requires_grad = n == -1
        if n > 0:
            layers = self.lm_layers()
            for layer in list(layers)[-min(n, len(layers)):]:
                for p in layer.parameters():
                    p.requires_grad = True
        self.top_n_layers_to_unfreeze = n
        if self.projection is not None:
            for p in self.projection.parameters():
                p.requires_grad = True

    def encode(self, input_ids: Tensor, attention_mask: Tensor,
               mention_mask: Tensor | None = None, language_model: Any = None
               ) -> tuple[Tensor, Tensor]:
        """Return (mention-pooled, window-pooled) hidden states, before projection.

        ``language_model``: an equivalent encoder to run instead (the reduced-precision
        inference copy); default the trainable one.
        """
        lm = self.language_model if language_model is None else language_model
        out = lm(input_ids=input_ids, attention_mask=attention_mask)
        hidden = out.last_hidden_state.float()  # pool in float32 (also in bfloat16)
        window = masked_mean(hidden, attention_mask)
        if mention_mask is None:
            return window, window
        empty = mention_mask.sum(dim=1, keepdim=True) == 0
        mention = masked_mean(hidden, mention_mask)
        return torch.where(empty, window, mention), window

    def project(self, pooled: Tensor) -> Tensor:
        """Projection (if any) and L2 normalisation of pooled vectors."""
        if self.projection is not None:
            pooled = self.projection(pooled)
        return F.normalize(pooled.float(), p=2, dim=-1)

    def forward(self, input_ids: Tensor, attention_mask: Tensor,
                mention_mask: Tensor | None = None) -> Tensor:
        mention, _ = self.encode(input_ids, attention_mask, mention_mask)
        return self.project(mention)

    def trainable_state(self) -> dict[str, Tensor]:
        """Parameters that training may change (projection and unfrozen layers)."""
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        return {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()
                if k in names}
