"""Batched speech-token generation with transformers' ``generate``.

Two logits processors are the only additions: one allows only speech tokens and ``<eos>``
(otherwise text characters leak into the speech, as the pilot saw), one ends each row at its
own length cap (``tokens_per_char`` x its text length), so a looping row stops at a length
tied to its text rather than at the longest text of the batch. Static KV cache, left padding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from slmlib.model.positions import position_ids
from slmlib.model.vocab import SpeechVocab


@dataclass(frozen=True)
class Request:
    lang: str
    text: str
    prompt: np.ndarray | None = None      # style prompt (speech tokens) or None (style off)


class SpeechOnly:
    """Logits processor: −inf on every id that is neither a speech token nor ``<eos>``."""

    def __init__(self, vocab: SpeechVocab, size: int):
        self.mask = torch.full((size,), -math.inf)
        self.mask[vocab.speech_offset:vocab.size] = 0.0
        self.mask[vocab.eos_id] = 0.0

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores + self.mask.to(scores.device, scores.dtype)


class LengthCap:
    """Logits processor: forces ``<eos>`` on rows that reached their own maximum length."""

    def __init__(self, prompt_width: int, limits: list[int], eos_id: int):
        self.prompt_width, self.eos_id = prompt_width, eos_id
        self.limits = torch.tensor(limits)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        done = (input_ids.shape[1] - self.prompt_width) >= self.limits.to(scores.device)
        if done.any():
            scores = scores.clone()
            scores[done] = -math.inf
            scores[done, self.eos_id] = 0.0
        return scores


def max_speech_tokens(text: str, tokens_per_char: float) -> int:
    return max(8, int(math.ceil(tokens_per_char * len(text))))


@torch.inference_mode()
def generate_speech(model, vocab: SpeechVocab, requests: list[Request], *, temperature: float,
                    top_p: float, tokens_per_char: float, batch_size: int, seed: int,
                    static_cache: bool = True,
                    embed_prefix: Callable[[torch.Tensor, list[int]], torch.Tensor] | None = None
                    ) -> list[np.ndarray]:
    """Codec tokens for each request, in order. ``temperature`` 0 means greedy decoding.

    Requests are batched by prefix length (less left padding); the seed makes sampling
    reproducible for the same requests, batch size and machine. ``embed_prefix(ids, rows)``
    turns a batch's left-padded prefix ids and the request indices of its rows into
    ``inputs_embeds`` (SASLM's intent-modulated text embeddings); generation then starts from
    those embeddings and continues with the model's own embeddings.
    """
    from transformers import LogitsProcessorList

    if not requests:
        return []
    torch.manual_seed(seed)
    prefixes = [vocab.prefix(r.lang, r.text, r.prompt) for r in requests]
    order = np.argsort([len(p) for p in prefixes], kind="stable")
    out: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(requests)
    size = model.config.vocab_size
    device = next(model.parameters()).device
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        width = max(len(prefixes[i]) for i in idx)
        ids = torch.full((len(idx), width), vocab.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, i in enumerate(idx):
            ids[row, width - len(prefixes[i]):] = torch.tensor(prefixes[i])
            mask[row, width - len(prefixes[i]):] = 1
        ids, mask = ids.to(device), mask.to(device)
        limits = [max_speech_tokens(requests[i].text, tokens_per_char) for i in idx]
        # generate() from inputs_embeds returns (and shows the processors) only the new tokens
        first = 0 if embed_prefix is not None else width
        processors = LogitsProcessorList([SpeechOnly(vocab, size),
                                          LengthCap(first, limits, vocab.eos_id)])
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0} \
            if temperature > 0 else {"do_sample": False}
        inputs = {"input_ids": ids} if embed_prefix is None else \
            {"inputs_embeds": embed_prefix(ids, [int(i) for i in idx])}
        generated = model.generate(
            **inputs, attention_mask=mask, position_ids=position_ids(model, ids, mask),
            max_new_tokens=max(limits) + 1, logits_processor=processors, pad_token_id=vocab.pad_id, eos_token_id=vocab.eos_id,
            cache_implementation="static" if static_cache else None, **sampling)
        for row, i in enumerate(idx):
            out[i] = vocab.speech_from_ids(generated[row, first:].cpu().numpy())
    return out
