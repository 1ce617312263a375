"""Stage 3 (P2 §3): score rollouts with a rubric, split them against a plain-TTS anchor, and
train with an anchored preference loss.

The rubric has P2's three dimensions, each in {0, 0.5, 1}; a rollout whose CER exceeds the
anchor's by more than the gate scores 0 on all three (P2: WER > 0.2 → 0). Our critic's
readings (P2's model listens to itself; ours reads its own states and tokens):

* emotion: the critic's speech head ranks the emotion its context head reads from the dialogue
  first → 1, second → 0.5, else 0;
* prosody: the rollout's pitch spread (std of the codec's pitch codes in semitones over voiced
  tokens) within the middle half of training replies of that emotion → 1, within 10-90 % → 0.5;
* naturalness: length per character within training's 10-90 % and repetition ≤ 5 % → 1,
  within 2-98 % and ≤ 10 % → 0.5.

The oracle reward (P2's 30B judge) replaces the emotion dimension by the evaluation emotion judge
hearing the decoded audio and told the true emotion; the other two stay the same.

The loss is our reconstruction of P2 Eq. 13 in the KTO/UAPO reference-point form, with
r(y) = β (log π_θ(y|x) − log π_ref(y|x)) summed over speech tokens and the anchor y_⊥ spoken by
the plain TTS:

    L = − E_{y_w} log σ(r(y_w) − r(y_⊥)) − E_{y_l} log σ(r(y_⊥) − r(y_l))
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from slmlib.metrics import repetition_rate
from slmlib.hardware import bf16_supported
from slmlib.model.train import TrainingError
from slmlib.saslm.config import SASLMConfig
from slmlib.saslm.model import SASLM, Dialogue, sequence_logprobs, trainable

DIMENSIONS = ("emotion", "prosody", "naturalness")
SCORES = tuple(f"score_{d}" for d in DIMENSIONS)      # the rubric's columns


def pitch_spread(tokens: np.ndarray, pitch_centres: np.ndarray) -> float:
    """Std (semitones re the speaker) of the pitch codes of the voiced tokens; 0 if < 2 voiced."""
    pitch = np.asarray(tokens) % len(pitch_centres)
    voiced = pitch > 0
    return float(np.std(pitch_centres[pitch[voiced]])) if voiced.sum() >= 2 else 0.0


@dataclass(frozen=True)
class RubricNorms:
    """What the critic knows of its training replies: pitch-spread quantiles per emotion and
    tokens-per-character quantiles (fit once, in stages 1-2, on the training targets)."""

    spread: dict[int, tuple[float, float, float, float]]    # emotion -> (q10, q25, q75, q90)
    length: tuple[float, float, float, float]                # (q02, q10, q90, q98)

    @classmethod
    def fit(cls, items: list[Dialogue], pitch_centres: np.ndarray) -> "RubricNorms":
        spreads = np.array([pitch_spread(d.tokens, pitch_centres) for d in items])
        emotions = np.array([d.emotion for d in items])
        per = {int(e): tuple(np.quantile(spreads[emotions == e], [0.1, 0.25, 0.75, 0.9]).tolist())
               for e in np.unique(emotions)}
        rates = np.array([len(d.tokens) / len(d.reply) for d in items])
        return cls(per, tuple(np.quantile(rates, [0.02, 0.1, 0.9, 0.98]).tolist()))


def rank_score(probs: np.ndarray, want: int) -> float:
    """1 if ``want`` is the most probable class, 0.5 if second, else 0."""
    order = np.argsort(-probs)
    return 1.0 if order[0] == want else 0.5 if len(order) > 1 and order[1] == want else 0.0


def rubric(items: list[Dialogue], speech_probs: np.ndarray, context_probs: np.ndarray,
           norms: RubricNorms, pitch_centres: np.ndarray) -> pd.DataFrame:
    """The self-critic's three scores per item (before the gate)."""
    rows = []
    for d, sp, cp in zip(items, speech_probs, context_probs):
        want = int(np.argmax(cp))
        q10, q25, q75, q90 = norms.spread.get(want, next(iter(norms.spread.values())))
        s = pitch_spread(d.tokens, pitch_centres)
        l02, l10, l90, l98 = norms.length
        rate, rep = len(d.tokens) / len(d.reply), repetition_rate(d.tokens)
        rows.append({"critic_emotion": cp.argmax(),
                     "score_emotion": rank_score(sp, want),
                     "score_prosody": 1.0 if q25 <= s <= q75 else 0.5 if q10 <= s <= q90 else 0.0,
                     "score_naturalness": 1.0 if l10 <= rate <= l90 and rep <= 0.05
                     else 0.5 if l02 <= rate <= l98 and rep <= 0.1 else 0.0})
    return pd.DataFrame(rows)


def gated_total(scores: pd.DataFrame, cer: np.ndarray, anchor_cer: np.ndarray, gate: float) -> np.ndarray:
    """Sum of the three dimensions, 0 where CER exceeds the anchor's by more than ``gate``."""
    total = scores[list(SCORES)].sum(axis=1).to_numpy()
    return np.where(np.asarray(cer) > np.asarray(anchor_cer) + gate, 0.0, total)


def split_by_anchor(scores: np.ndarray, anchor_scores: np.ndarray) -> np.ndarray:
    """+1 (preferred) where a rollout beats its anchor, −1 (rejected) where it falls below,
    0 (dropped) on ties."""
    return np.sign(np.asarray(scores) - np.asarray(anchor_scores)).astype(int)


def anchored_loss(policy: torch.Tensor, reference: torch.Tensor, policy_anchor: torch.Tensor,
                  reference_anchor: torch.Tensor, sign: torch.Tensor, beta: float) -> dict[str, torch.Tensor]:
    """Per-example loss −log σ(sign · (r(y) − r(y_⊥))) and the rewards (module docstring)."""
    r = beta * (policy - reference)
    r_anchor = beta * (policy_anchor - reference_anchor)
    return {"loss": -F.logsigmoid(sign * (r - r_anchor)), "reward": r, "reward_anchor": r_anchor}


@dataclass(frozen=True)
class Preference:
    """One stage-3 example: a rollout and its anchor on the same dialogue, with the reference
    model's log-probabilities of both."""

    rollout: Dialogue
    anchor: Dialogue
    sign: int
    ref_rollout: float
    ref_anchor: float


@torch.inference_mode()
def reference_logprobs(model: SASLM, items: list[Dialogue]) -> np.ndarray:
    return sequence_logprobs(model, items).float().cpu().numpy()


def train_anchored(model: SASLM, prefs: list[Preference], cfg: SASLMConfig, seed: int,
                   device: str = "cpu", log_every: int = 5) -> list[dict]:
    """Stage 3: ``cfg.stage3_steps`` steps of the anchored loss on random batches of ``prefs``;
    the bridge and speech head train, the thinker stays as stage 2 left it."""
    if not prefs:
        raise TrainingError("no rollout differs from its anchor's score: nothing to align on")
    model.to(device).train()
    groups = trainable(model, 1, cfg)
    for g in groups:
        g["lr"] = cfg.stage3_lr
    opt = torch.optim.AdamW(groups, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    use_bf16 = bf16_supported(device)
    log, t0 = [], time.perf_counter()
    for step in range(cfg.stage3_steps):
        batch = [prefs[i] for i in rng.choice(len(prefs), size=min(cfg.stage3_batch, len(prefs)), replace=False)]
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=use_bf16):
            logp = sequence_logprobs(model, [p.rollout for p in batch] + [p.anchor for p in batch])
        n, dev = len(batch), logp.device
        terms = anchored_loss(logp[:n].float(), torch.tensor([p.ref_rollout for p in batch], device=dev),
                              logp[n:].float(), torch.tensor([p.ref_anchor for p in batch], device=dev),
                              torch.tensor([float(p.sign) for p in batch], device=dev), cfg.reward_beta)
        loss = terms["loss"].mean()
        if not torch.isfinite(loss):
            raise TrainingError(f"stage 3 loss became {loss.item()} at step {step}; lower saslm.stage3_lr")
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if (step + 1) % log_every == 0 or step + 1 == cfg.stage3_steps:
            signs = np.array([p.sign for p in batch])
            margin = (terms["reward"] - terms["reward_anchor"]).detach().cpu().numpy()
            log.append({"stage": 3, "step": step + 1, "loss": loss.item(),
                        "margin_preferred": float(margin[signs > 0].mean()) if (signs > 0).any() else np.nan,
                        "margin_rejected": float(margin[signs < 0].mean()) if (signs < 0).any() else np.nan,
                        "seconds": time.perf_counter() - t0})
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return log
