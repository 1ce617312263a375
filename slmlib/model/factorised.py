"""A factorised embedding and output layer for codec tokens that are (content, pitch) pairs.

The codec's token ``t = content * P + pitch`` (``slmlib.codec``): 1024 content codes x 13 pitch
bins give 13,312 speech tokens, and a plain embedding and output layer learn one row per pair,
each from the few frames where that pair occurs. Here a speech token is read in as
``content[c] + pitch[p]`` and scored as ``a_c(h) + b_p(h) + T[c, p]``: two small projections of
the hidden state plus a learned table of which pairs go together (an unvoiced content code
takes the unvoiced pitch bin). The softmax still runs over the whole vocabulary, so the model
stays a causal LM over one token sequence (loss, sampling, DPO and generation are unchanged);
what changes is that the content statistics are shared across pitch bins and the output layer
costs ``H x (K + P)`` instead of ``H x K*P`` multiply-adds per position.

Written by hand because no library offers factorised token embeddings for Hugging Face causal
LMs; the modules hold plain parameters (no ``nn.Linear``), so peft's ``all-linear`` LoRA leaves
them alone as it leaves a plain output layer alone.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from slmlib.model.vocab import SpeechVocab

FACTORS = "speech_factors"          # the config.json entry of a factorised model


class _Tables(nn.Module):
    """One hidden-size row per id below ``offset``, per content code and per pitch bin."""

    def __init__(self, offset: int, n_content: int, n_pitch: int, hidden: int, std: float):
        super().__init__()
        self.offset, self.n_pitch = offset, n_pitch
        self.other = nn.Parameter(torch.randn(offset, hidden) * std)
        self.content = nn.Parameter(torch.randn(n_content, hidden) * std)
        self.pitch = nn.Parameter(torch.randn(n_pitch, hidden) * std)


class FactorisedEmbedding(_Tables):
    """Rows below ``offset`` (specials, language tags, text) from a table; a speech token
    ``offset + c * n_pitch + p`` as ``content[c] + pitch[p]``."""

    @property
    def weight(self) -> torch.Tensor:
        """The full (vocabulary x hidden) table, for code that reads an embedding's rows."""
        speech = (self.content[:, None, :] + self.pitch[None, :, :]).flatten(0, 1)
        return torch.cat([self.other, speech])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        is_speech = (ids >= self.offset).unsqueeze(-1)
        speech = (ids - self.offset).clamp(min=0)
        spoken = F.embedding(speech // self.n_pitch, self.content) + F.embedding(speech % self.n_pitch, self.pitch)
        return torch.where(is_speech, spoken, F.embedding(ids.clamp(max=self.offset - 1), self.other))


class FactorisedHead(_Tables):
    """Logits over the whole vocabulary: a projection for the ids below ``offset``, and
    ``a_c(h) + b_p(h) + T[c, p]`` for speech token (c, p)."""

    def __init__(self, offset: int, n_content: int, n_pitch: int, hidden: int, std: float):
        super().__init__(offset, n_content, n_pitch, hidden, std)
        self.pairs = nn.Parameter(torch.zeros(n_content, n_pitch))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        a = F.linear(hidden, self.content)
        b = F.linear(hidden, self.pitch)
        speech = (a.unsqueeze(-1) + b.unsqueeze(-2) + self.pairs.to(a.dtype)).flatten(-2)
        return torch.cat([F.linear(hidden, self.other), speech], dim=-1)


def factorise(model, vocab: SpeechVocab):
    """Replace a freshly built model's embedding and output layer by the factorised pair (not
    tied) and record the factors in its config, so :func:`load_causal_lm` rebuilds it."""
    if vocab.pitch_codes < 2 or vocab.n_speech % vocab.pitch_codes:
        raise ValueError(f"a factorised speech head needs n_speech = content x pitch codes; the vocabulary "
                         f"has {vocab.n_speech} speech tokens and pitch_codes={vocab.pitch_codes}")
    factors = {"offset": vocab.speech_offset, "n_content": vocab.n_speech // vocab.pitch_codes,
               "n_pitch": vocab.pitch_codes}
    _install(model, factors)
    setattr(model.config, FACTORS, factors)
    return model


def _install(model, factors: dict) -> None:
    config = model.config
    sizes = dict(factors, hidden=config.hidden_size, std=config.initializer_range)
    config.tie_word_embeddings = False
    model.set_input_embeddings(FactorisedEmbedding(**sizes))
    model.set_output_embeddings(FactorisedHead(**sizes))


def load_causal_lm(folder: str | Path):
    """A causal LM saved with ``save_pretrained``: plain ones through transformers, factorised
    ones rebuilt from their config and loaded strictly (``from_pretrained`` would silently
    re-initialise the layers it does not know)."""
    import transformers
    from safetensors.torch import load_file

    folder = Path(folder)
    config = transformers.AutoConfig.from_pretrained(folder)
    factors = getattr(config, FACTORS, None)
    if not factors:
        return transformers.AutoModelForCausalLM.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_config(config)
    _install(model, factors)
    state = {}
    for shard in sorted(folder.glob("*.safetensors")):
        state.update(load_file(shard))
    model.load_state_dict(state, strict=True)
    return model
