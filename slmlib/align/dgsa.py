"""DGSA's preference sets (P1 §3.2): the frozen SFT model speaks texts that have a real
recording, once with the style prefix on (y_expr: a prompt from *another* utterance of the
same speaker, so the answer cannot leak) and once with it off (y_stab); the real recording's
tokens are preferred over both:

    T_stab = {(x, y_real > y_expr)}      T_expr = {(x, y_real > y_stab)}

``random_speaker`` draws the prompt from a different speaker instead (P1 Tab. 7's
"random-speaker pairs" ablation).
"""
from __future__ import annotations

import numpy as np

from slmlib.align.dpo import Pair
from slmlib.model.data import Utterance
from slmlib.model.generate import Request, generate_speech


def prompt_sources(speakers: list[str], seed: int, random_speaker: bool = False) -> list[int]:
    """For each utterance (by its speaker), the index of another utterance of the same speaker
    (or of a different speaker with ``random_speaker``) to prompt with."""
    rng = np.random.default_rng(seed)
    speakers_ = np.array(speakers)
    sources = []
    for i, speaker in enumerate(speakers_):
        pool = np.flatnonzero((speakers_ != speaker) if random_speaker else (speakers_ == speaker))
        pool = pool[pool != i]
        if len(pool) == 0:
            raise ValueError(f"speaker {speaker!r} has no other utterance to prompt with")
        sources.append(int(rng.choice(pool)))
    return sources


def style_prompts(utts: list[Utterance], max_tokens: int, seed: int, random_speaker: bool = False
                  ) -> list[np.ndarray]:
    """For each utterance, the first ``max_tokens`` of the utterance :func:`prompt_sources` picks."""
    return [utts[j].tokens[:max_tokens]
            for j in prompt_sources([u.speaker for u in utts], seed, random_speaker)]


def dgsa_pairs(model, vocab, utts: list[Utterance], prompts: list[np.ndarray], *, temperature: float,
               top_p: float, tokens_per_char: float, batch_size: int, seed: int,
               score_with_prompt: bool) -> tuple[list[Pair], dict[str, list[np.ndarray]]]:
    """Both preference sets for real utterances ``utts`` (their tokens are y_real), and the
    generations themselves (``{"expr": [...], "stab": [...]}``) for inspection."""
    kw = dict(temperature=temperature, top_p=top_p, tokens_per_char=tokens_per_char,
              batch_size=batch_size, seed=seed)
    y_expr = generate_speech(model, vocab, [Request(u.lang, u.text, p) for u, p in zip(utts, prompts)], **kw)
    y_stab = generate_speech(model, vocab, [Request(u.lang, u.text) for u in utts], **kw)
    return preference_pairs(utts, prompts, y_expr, y_stab, score_with_prompt), \
        {"expr": y_expr, "stab": y_stab}


def preference_pairs(utts: list[Utterance], prompts: list[np.ndarray], y_expr: list[np.ndarray],
                     y_stab: list[np.ndarray], score_with_prompt: bool) -> list[Pair]:
    """T_stab (real > y_expr) and T_expr (real > y_stab) for each utterance, in turn."""
    pairs = []
    for u, p, e, s in zip(utts, prompts, y_expr, y_stab):
        context = p if score_with_prompt else None
        pairs.append(Pair(u.lang, u.text, u.tokens, e, group="stab", prompt=context))
        pairs.append(Pair(u.lang, u.text, u.tokens, s, group="expr", prompt=context))
    return pairs
