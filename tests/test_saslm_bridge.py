"""SASLM's bridge: the VIB, its AR(1) KL, the β schedule and AdaLN."""
import math

import pytest
import torch

from slmlib.saslm.bridge import AdaLN, IntentVIB, ar1_kl, kl_weight


def test_ar1_kl_matches_p2s_closed_form():
    torch.manual_seed(0)
    B, T, D, a, sp = 2, 5, 3, 0.95, 0.5
    z, mu, logvar = torch.randn(B, T, D), torch.randn(B, T, D), torch.randn(B, T, D) * 0.3
    mask = torch.ones(B, T)
    var = logvar.exp()
    prev = torch.cat([torch.zeros(B, 1, D), a * z[:, :-1]], 1)
    prior_var = torch.full((B, T, D), sp ** 2)
    prior_var[:, 0] = sp ** 2 / (1 - a ** 2)
    closed = 0.5 * ((var + (mu - prev) ** 2) / prior_var - 1 - torch.log(var / prior_var)).sum(-1)
    assert ar1_kl(z, mu, logvar, mask, a, sp).item() == pytest.approx(closed.mean().item(), rel=1e-5)
    # masked positions do not count
    mask[:, 3:] = 0
    assert ar1_kl(z, mu, logvar, mask, a, sp).item() == pytest.approx(closed[:, :3].mean().item(), rel=1e-5)
    # at the prior (z = 0, so every prior mean is 0; z_1 at the stationary variance) the KL is 0
    still = torch.zeros(1, 4, D)
    logvar0 = torch.full((1, 4, D), math.log(sp ** 2))
    logvar0[:, 0] = math.log(sp ** 2 / (1 - a ** 2))
    assert ar1_kl(still, still, logvar0, torch.ones(1, 4), a, sp).item() == pytest.approx(0.0, abs=1e-6)


def test_ar1_kl_gradient_reaches_the_previous_latent_only_without_detach():
    z = torch.randn(1, 3, 2, requires_grad=True)
    mu, logvar = torch.randn(1, 3, 2, requires_grad=True), torch.zeros(1, 3, 2)
    ar1_kl(z, mu, logvar, torch.ones(1, 3), detach_prev=True).backward()
    assert z.grad is None or torch.all(z.grad == 0)
    z.grad = None
    ar1_kl(z, mu, logvar, torch.ones(1, 3), detach_prev=False).backward()
    assert torch.any(z.grad != 0)


def test_kl_weight_is_zero_then_a_cosine_ramp_to_beta_max():
    w = [kl_weight(s, 100) for s in range(100)]
    assert all(v == 0.0 for v in w[:10]) and w[10] == 0.0
    assert w[-1] == pytest.approx(0.5) and all(b >= a for a, b in zip(w, w[1:]))
    assert kl_weight(55, 100) == pytest.approx(0.25, abs=0.01)


def test_vib_samples_around_mu_and_adaln_starts_as_plain_normalised_embeddings():
    torch.manual_seed(0)
    vib = IntentVIB(hidden=8, latent=4)
    h = torch.randn(2, 6, 8)
    z, mu, logvar = vib(h)
    assert z.shape == mu.shape == logvar.shape == (2, 6, 4)
    assert torch.equal(vib(h, sample=False)[0], vib(h, sample=False)[1])
    ada = AdaLN(latent=4, hidden=8)
    e = torch.randn(2, 6, 8) * 3 + 1
    out = ada(e, z)
    assert torch.allclose(out, torch.nn.functional.layer_norm(e, (8,)), atol=1e-6)   # zero-initialised
    out.sum().backward()
    assert ada.to_scale_shift.weight.grad.abs().sum() > 0      # but it learns from the start
