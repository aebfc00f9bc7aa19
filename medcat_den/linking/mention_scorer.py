"""``MentionScorer``: the learned rejection head ("is this candidate a mention here?").

Input: the projected mention vector, the L2-normalised context-window vector
and a few scalar features (best / second-best link similarity, generator
similarity, candidate kind, length, capitalisation). Output: one logit.
Trained with binary cross-entropy on the candidates of annotated documents:
a candidate is positive when an annotation has exactly its span.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

N_SCALARS = 7


def scalar_features(s1: Tensor, s2: Tensor, gen_sim: Tensor, kind: Tensor,
                    n_tokens: Tensor, upper_ratio: Tensor) -> Tensor:
    return torch.stack([s1, s1 - s2, gen_sim, (kind == 0).float(), (kind == 1).float(),
                        torch.log1p(n_tokens.float()), upper_ratio], dim=1)


class MentionScorer(nn.Module):
    """Small MLP over [mention vector, window vector, scalar features] → logit."""

    def __init__(self, dim: int, window_dim: int, hidden: int = 128) -> None:
        super().__init__()
        width = dim + window_dim + N_SCALARS
        self.net = nn.Sequential(
            nn.Linear(width, hidden), nn.GELU(), nn.Dropout(0.1), nn.Linear(hidden, 1))
        # input standardisation, fitted on the training rows (encoders are often anisotropic)
        self.mean: Tensor
        self.scale: Tensor
        self.fitted: Tensor
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("scale", torch.ones(width))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def inputs(self, mention: Tensor, window: Tensor, scalars: Tensor) -> Tensor:
        return torch.cat([mention, window, scalars], dim=1)

    def fit_standardisation(self, x: Tensor) -> None:
        with torch.no_grad():
            self.mean.copy_(x.mean(dim=0))
            if x.shape[0] > 1:
                self.scale.copy_(x.std(dim=0).clamp(min=1e-4))
            else:
                self.scale.fill_(1.0)
            self.fitted.fill_(True)

    def forward(self, mention: Tensor, window: Tensor, scalars: Tensor) -> Tensor:
        x = self.inputs(mention, window, scalars)
        out: Tensor = self.net((x - self.mean) / self.scale)
        return out.squeeze(1)
