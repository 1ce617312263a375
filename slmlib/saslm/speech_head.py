"""SASLM's speech head: the SLM of ``slmlib.model`` whose text-character embeddings are
conditioned on the thinker's hidden states over the same characters (P2 §1.3, §2.6).

Modes (P2 Tab. 3-4's rows): ``plain`` (TTS, no intent), ``add`` (naive addition of a projection
of h_i to e_i), ``adaln`` (AdaLN from a deterministic projection of h_i, no VIB) and ``vib``
(z_i from the VIB, then AdaLN). Only text positions are modulated; the conditioned embeddings
enter the transformer through ``inputs_embeds``, so training and generation stay transformers'.
"""
from __future__ import annotations

import torch
from torch import nn

from slmlib.model.vocab import SpeechVocab
from slmlib.saslm.bridge import AdaLN, IntentVIB

MODES = ("plain", "add", "adaln", "vib")


def text_mask(input_ids: torch.Tensor, vocab: SpeechVocab) -> torch.Tensor:
    """True at text positions (characters, or a pretrained backbone's text tokens)."""
    return vocab.is_text(input_ids)


def scatter_intent(mask: torch.Tensor, per_row: list[torch.Tensor]) -> torch.Tensor:
    """(B, T, H) with row b's character states ``per_row[b]`` (n_chars_b, H) at its text positions."""
    out = per_row[0].new_zeros(*mask.shape, per_row[0].shape[-1])
    for b, states in enumerate(per_row):
        n = int(mask[b].sum())
        if states.shape[0] != n:
            raise ValueError(f"row {b}: {states.shape[0]} intent states for {n} text characters")
        out[b, mask[b]] = states.to(out.dtype)
    return out


class IntentSpeechHead(nn.Module):
    """The speech LM plus the bridge of ``mode``; ``thinker_hidden`` is the width of h_i."""

    def __init__(self, lm, vocab: SpeechVocab, thinker_hidden: int, mode: str = "vib", latent: int = 16,
                 logvar_init: float = 0.0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"bridge mode {mode!r}: use one of {MODES}")
        self.lm, self.vocab, self.mode, self.latent = lm, vocab, mode, latent
        hidden = lm.config.hidden_size
        if mode == "add":
            self.project = nn.Linear(thinker_hidden, hidden)
            nn.init.zeros_(self.project.weight)
            nn.init.zeros_(self.project.bias)
        elif mode == "adaln":
            self.project = nn.Linear(thinker_hidden, latent)
        elif mode == "vib":
            self.vib = IntentVIB(thinker_hidden, latent, logvar_init=logvar_init)
        if mode in ("adaln", "vib"):
            self.adaln = AdaLN(latent, hidden)

    def embed(self, input_ids: torch.Tensor, intent: torch.Tensor | None, sample: bool = True
              ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """inputs_embeds for ``input_ids`` (B, T) with ``intent`` (B, T, H) at text positions,
        and the VIB's (z, mu, logvar) restricted to text positions when ``mode == "vib"``."""
        e = self.lm.get_input_embeddings()(input_ids)
        if self.mode == "plain" or intent is None:
            return e, {}
        mask = text_mask(input_ids, self.vocab).unsqueeze(-1)
        extra: dict[str, torch.Tensor] = {}
        if self.mode == "add":
            f = e + self.project(intent)
        else:
            if self.mode == "vib":
                z, mu, logvar = self.vib(intent, sample)
                extra = {"z": z, "mu": mu, "logvar": logvar}
            else:
                z = self.project(intent)
            f = self.adaln(e, z)
        return torch.where(mask, f, e), extra
