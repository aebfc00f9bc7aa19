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
        self.net = nn.Sequential(
            nn.Linear(dim + window_dim + N_SCALARS, hidden), nn.GELU(), nn.Dropout(0.1),
            nn.Linear(hidden, 1))

    def forward(self, mention: Tensor, window: Tensor, scalars: Tensor) -> Tensor:
        return self.net(torch.cat([mention, window, scalars], dim=1)).squeeze(1)
