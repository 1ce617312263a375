"""Direct preference optimisation over speech-token sequences, with weighted preference sets.

Written here rather than with trl's DPOTrainer because DGSA mixes two preference sets with
weights that depend on alpha (lambda_s, lambda_e), and the reduction (sum vs mean per token)
and an optional SFT term must be parameters; trl's trainer has neither per-set weights nor a
mean reduction. The loss is the standard one: -log sigmoid(beta * (Δ_chosen - Δ_rejected)),
Δ = log pi_theta(y|x) - log pi_ref(y|x) (Rafailov et al. 2023; P1 Eq. 8-14).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from slmlib.align.config import AlignConfig
from slmlib.model.data import collate
from slmlib.hardware import bf16_supported
from slmlib.model.train import TrainingError, make_accelerator, target_logprobs
from slmlib.model.vocab import SpeechVocab

DPO_LOG = "dpo_log.json"


@dataclass(frozen=True)
class Pair:
    """One preference: for this text (and optional prompt), ``chosen`` beats ``rejected``."""

    lang: str
    text: str
    chosen: np.ndarray
    rejected: np.ndarray
    group: str = "default"                # preference set (DGSA: "stab" or "expr")
    prompt: np.ndarray | None = None


def sequence_logprobs(model, vocab: SpeechVocab, pairs: list[Pair], which: str,
                      reduction: str) -> torch.Tensor:
    """log pi(y|x) of each pair's ``chosen`` or ``rejected`` sequence (speech tokens + <eos>),
    summed or averaged over its tokens."""
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    examples = [vocab.training_example(p.lang, p.text, getattr(p, which), p.prompt) for p in pairs]
    batch = collate(examples, vocab.pad_id)
    device = next(model.parameters()).device
    logp, mask = target_logprobs(model, {k: v.to(device) for k, v in batch.items()})
    total = logp.sum(-1)
    return total if reduction == "sum" else total / mask.sum(-1)


def dpo_terms(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
              ref_rejected: torch.Tensor, beta: float) -> dict[str, torch.Tensor]:
    """Per-pair loss, implicit rewards and margin (the diagnostics trl logs)."""
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    return {"loss": -F.logsigmoid(chosen - rejected), "reward_chosen": chosen,
            "reward_rejected": rejected, "margin": chosen - rejected}


def dgsa_weights(alpha: float, alpha_star: float = 0.5) -> dict[str, float]:
    """P1's dynamic weights: lambda_e = max(0, (alpha - alpha*) / (1 - alpha*)), lambda_s = 1 - lambda_e."""
    if not 0 <= alpha_star < 1:
        raise ValueError(f"alpha* must lie in [0, 1), got {alpha_star}")
    expr = max(0.0, (alpha - alpha_star) / (1 - alpha_star))
    return {"stab": 1.0 - expr, "expr": expr}


def weighted_group_loss(losses: torch.Tensor, groups: list[str], weights: dict[str, float]
                        ) -> torch.Tensor:
    """sum_g weights[g] * mean(losses of group g in the batch): P1 Eq. 14 taken literally, so
    dropping one objective (an ablation) keeps the other at its DGSA weight, and the loss of a
    single set with weight 1 is plain DPO."""
    total = losses.new_zeros(())
    for g in sorted(set(groups)):
        m = torch.tensor([x == g for x in groups], device=losses.device)
        total = total + weights[g] * losses[m].mean()
    return total


@torch.no_grad()
def reference_logprobs(model, vocab: SpeechVocab, pairs: list[Pair], reduction: str,
                       batch_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """The frozen reference policy's log-probabilities of every chosen and rejected sequence,
    computed once before training (the reference never changes)."""
    model.eval()
    chosen, rejected = [], []
    for i in range(0, len(pairs), batch_pairs):
        part = pairs[i:i + batch_pairs]
        chosen.append(sequence_logprobs(model, vocab, part, "chosen", reduction).float().cpu())
        rejected.append(sequence_logprobs(model, vocab, part, "rejected", reduction).float().cpu())
    return torch.cat(chosen).numpy(), torch.cat(rejected).numpy()


class PairLogprobs(nn.Module):
    """The policy's log-probabilities of a batch's chosen and rejected sequences as a module's
    forward, so that DDP can wrap it (DDP synchronises the gradients of what forward computes)."""

    def __init__(self, policy, vocab: SpeechVocab, reduction: str):
        super().__init__()
        self.policy, self.vocab, self.reduction = policy, vocab, reduction

    def forward(self, pairs: list[Pair]) -> tuple[torch.Tensor, torch.Tensor]:
        return (sequence_logprobs(self.policy, self.vocab, pairs, "chosen", self.reduction).float(),
                sequence_logprobs(self.policy, self.vocab, pairs, "rejected", self.reduction).float())


def train_dpo(sft_folder: str | Path, pairs: list[Pair], weights: dict[str, float],
              cfg: AlignConfig, seed: int, out: Path, device: str = "cpu",
              log_every: int = 5, reference_folder: str | Path | None = None) -> list[dict]:
    """Start from the SFT model in ``sft_folder`` (also the frozen reference unless
    ``reference_folder`` names another, e.g. TDSC's original SFT model), minimise
    sum_g weights[g] * DPO(pairs of group g) (+ ``cfg.sft_weight`` * NLL of chosen), save the
    policy to ``out``; returns the log with per-group rewards, margins and accuracies. Batches
    are drawn from the sets with a positive weight only.

    Runs under ``accelerate launch`` / ``torchrun`` as well (:mod:`slmlib.align.dpo_job`): every
    process draws the same pairs and takes its share of them; DDP averages the gradients. bf16
    autocast stays ours, so one process computes exactly what the plain loop did."""
    import transformers

    from slmlib.model.train import load_slm

    if not pairs:
        raise TrainingError("no preference pairs")
    unknown = sorted({p.group for p in pairs} - set(weights))
    if unknown:
        raise ValueError(f"no weight for preference sets {unknown}; weights: {weights}")
    torch.manual_seed(seed)
    policy, vocab = load_slm(sft_folder)
    reference, _ = load_slm(reference_folder or sft_folder)
    policy.to(device)
    reference.to(device)
    ref_c, ref_r = reference_logprobs(reference, vocab, pairs, cfg.reduction, cfg.batch_pairs)
    del reference
    policy.train()
    opt = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, betas=(0.9, 0.999), weight_decay=0.0)
    sched = transformers.get_cosine_schedule_with_warmup(opt, cfg.warmup, cfg.steps)
    acc = make_accelerator(device, "no")
    pair_logprobs, opt, sched = acc.prepare(PairLogprobs(policy, vocab, cfg.reduction), opt, sched)
    autocast = cfg.bf16 and bf16_supported(device)
    rng = np.random.default_rng(seed)
    active = np.flatnonzero([weights[p.group] > 0 for p in pairs])   # a set weighted 0 is off
    if len(active) == 0:
        raise TrainingError(f"every preference set has weight 0: {weights}")
    log = []
    for step in range(cfg.steps):
        idx = rng.choice(active, size=min(cfg.batch_pairs, len(active)), replace=False)
        idx = np.array_split(idx, acc.num_processes)[acc.process_index]      # this process's share
        part = [pairs[i] for i in idx]
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=autocast):
            pc, pr = pair_logprobs(part)
        terms = dpo_terms(pc, pr, torch.from_numpy(ref_c[idx]).to(pc.device),
                          torch.from_numpy(ref_r[idx]).to(pc.device), cfg.beta)
        loss = weighted_group_loss(terms["loss"], [p.group for p in part], weights)
        if cfg.sft_weight:
            loss = loss - cfg.sft_weight * pc.mean()
        if not torch.isfinite(loss):
            raise TrainingError(f"DPO loss became {loss.item()} at step {step}; lower lr ({cfg.lr})")
        acc.backward(loss)
        acc.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if (step + 1) % log_every == 0 or step + 1 == cfg.steps:
            entry = {"step": step + 1, "loss": loss.item()}
            for g in sorted({part[i].group for i in range(len(part))}):
                m = torch.tensor([p.group == g for p in part])
                entry.update({f"{g}/reward_chosen": terms["reward_chosen"][m].mean().item(),
                              f"{g}/reward_rejected": terms["reward_rejected"][m].mean().item(),
                              f"{g}/margin": terms["margin"][m].mean().item(),
                              f"{g}/accuracy": (terms["margin"][m] > 0).float().mean().item()})
            log.append(entry)
    acc.wait_for_everyone()
    weights = acc.get_state_dict(pair_logprobs)       # gathered on the main process (a collective call)
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        policy.save_pretrained(out, state_dict={k.removeprefix("policy."): v for k, v in weights.items()})
        vocab.save_pretrained(out)
        (out / DPO_LOG).write_text(json.dumps(log))
    return log
