"""SASLM's intent-aware bridge (P2 §2): a variational information bottleneck per reply token
with an AR(1) prior, and AdaLN modulation of the speech head's text-token embeddings by z.

Choices where P2 is silent (each a parameter):

* z_1's prior is the AR(1) process's stationary law N(0, σ_p² / (1 − a²)), so every position
  has the same marginal prior;
* z_{i-1} in the prior is the *sampled* previous latent, detached (``detach_prev``): the prior
  is a target for position i and does not pull position i − 1 towards it;
* the KL is summed over latent dimensions and averaged over reply tokens, so β does not scale
  with the reply's length.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Normal, kl_divergence


class IntentVIB(nn.Module):
    """h_i -> (μ_i, log σ²_i) by a small MLP; z_i = μ_i + σ_i ε (the reparameterisation trick)."""

    def __init__(self, hidden: int, latent: int, width: int | None = None, logvar_init: float = 0.0):
        """``logvar_init`` sets the bias of log σ²: a low value (σ small) lets μ, which carries
        h, dominate z at the start instead of unit noise."""
        super().__init__()
        width = width or hidden
        self.net = nn.Sequential(nn.Linear(hidden, width), nn.GELU(), nn.Linear(width, 2 * latent))
        if logvar_init:
            nn.init.constant_(self.net[-1].bias[latent:], logvar_init)

    def forward(self, h: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z, mu, logvar), each (..., latent); ``sample=False`` returns z = mu (evaluation)."""
        mu, logvar = self.net(h).chunk(2, dim=-1)
        logvar = logvar.clamp(-10.0, 10.0)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
        return z, mu, logvar


def ar1_kl(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, mask: torch.Tensor,
           a: float = 0.95, sigma_p: float = 0.5, detach_prev: bool = True) -> torch.Tensor:
    """KL(q(z_i | h_i) || N(a z_{i-1}, σ_p² I)) summed over dimensions, averaged over the valid
    positions of ``mask`` (B, T); tensors are (B, T, D) along the reply's tokens."""
    prev = z.detach() if detach_prev else z
    prior_mean = torch.cat([torch.zeros_like(z[:, :1]), a * prev[:, :-1]], dim=1)
    prior_std = torch.full_like(z, sigma_p)
    prior_std[:, 0] = sigma_p / math.sqrt(1 - a ** 2)          # the stationary law for z_1
    kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(prior_mean, prior_std)).sum(-1)
    m = mask.to(kl.dtype)
    return (kl * m).sum() / m.sum().clamp(min=1.0)


def kl_weight(step: int, total: int, beta_max: float = 0.5, warm_share: float = 0.1) -> float:
    """P2 App. C.1: β = 0 for the first ``warm_share`` of the steps, then a cosine ramp to
    ``beta_max`` at the last step."""
    start = int(warm_share * total)
    if step < start or total <= start:
        return 0.0
    progress = min(1.0, (step - start) / max(total - 1 - start, 1))
    return beta_max * 0.5 * (1 - math.cos(math.pi * progress))


class AdaLN(nn.Module):
    """f_i = LayerNorm(e_i) · (1 + γ(z_i)) + β(z_i), LayerNorm without affine parameters and
    γ, β from one zero-initialised Linear: at initialisation f_i = LayerNorm(e_i) whatever z,
    so training starts as plain TTS on normalised embeddings (P2 Eq. 8)."""

    def __init__(self, latent: int, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False)
        self.to_scale_shift = nn.Linear(latent, 2 * hidden)
        nn.init.zeros_(self.to_scale_shift.weight)
        nn.init.zeros_(self.to_scale_shift.bias)

    def forward(self, e: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        scale, shift = self.to_scale_shift(z).chunk(2, dim=-1)
        return self.norm(e) * (1 + scale) + shift
