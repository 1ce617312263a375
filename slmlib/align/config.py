"""Preference-alignment parameters (DGSA notebook 03, TDSC notebook 04)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlignConfig:
    """DPO as P1 §3 states it (beta 0.1, reference = the frozen SFT policy), with the two
    choices where recipes differ made explicit: TRL sums token log-probabilities per sequence
    (beta 0.1, no SFT term), CosyVoice averages them (beta 0.01) and adds an SFT term."""

    beta: float = 0.1
    reduction: str = "sum"          # "sum" (TRL) or "mean" (CosyVoice) over a sequence's tokens
    sft_weight: float = 0.0         # weight of an NLL term on the chosen sequences
    alpha_star: float = 0.5         # DGSA: critical synthetic share (P1 App. D.2)
    score_with_prompt: bool = False # DGSA: score pairs with the style prompt in the context
    steps: int = 200
    batch_pairs: int = 16
    lr: float = 5e-5
    warmup: int = 10
    grad_clip: float = 1.0
    bf16: bool = True

    @classmethod
    def smoke(cls) -> "AlignConfig":
        return cls(steps=4, batch_pairs=4)
