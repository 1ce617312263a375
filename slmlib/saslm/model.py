"""SASLM as one module: the thinker, the bridge of a mode and the speech head (P2 §1-2), plus the
critic heads stage 3 scores rollouts with; its losses, stage 1-2 training, generation and the
sequence log-probabilities the anchored preference loss needs.

Choices where P2 is silent (see also ``SASLMConfig``): z = μ (no sampling) when generating and
when scoring sequences for stage 3, so a rollout's log-probability is a function of the model
alone; the critic heads read detached states (judging does not move what is judged).
"""
from __future__ import annotations

import json
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from slmlib.model.data import bucketed_batches, collate
from slmlib.model.generate import Request, generate_speech
from slmlib.hardware import bf16_supported
from slmlib.model.train import (TrainingError, decoder_states, labelled_logprobs, lora_adapters, load_slm,
                                make_accelerator)
from slmlib.model.vocab import SpeechVocab
from slmlib.saslm.bridge import ar1_kl, kl_weight
from slmlib.saslm.config import SASLMConfig
from slmlib.saslm.dialogues import thinker_text
from slmlib.saslm.speech_head import IntentSpeechHead, scatter_intent, text_mask
from slmlib.saslm.thinker import (DialogueBatch, Thinker, context_pool, encode_dialogues, reply_states,
                                  thinker_states)

LANG = "en"
META_FILE = "saslm.json"


@dataclass(frozen=True)
class Dialogue:
    """One input: the thinker's text, where its reply starts, the reply, speech tokens (the
    target, a rollout or an anchor) and the emotion index (-1 where unknown to the critic)."""

    text: str
    reply_start: int
    reply: str
    tokens: np.ndarray
    emotion: int = -1

    @classmethod
    def of(cls, context: str, reply: str, tokens: np.ndarray, emotion: int = -1,
           label: str | None = None) -> "Dialogue":
        """``label`` (the oracle condition) writes the true emotion into the thinker's text."""
        reply = unicodedata.normalize("NFC", reply).strip()
        text = thinker_text(context, reply, label)
        return cls(text, len(text) - len(reply), reply, np.asarray(tokens, dtype=np.int64), emotion)

    def with_tokens(self, tokens: np.ndarray) -> "Dialogue":
        return Dialogue(self.text, self.reply_start, self.reply, np.asarray(tokens, dtype=np.int64), self.emotion)


def compact(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, D) values at ``mask``'s positions moved to the front of each row: (B, L, D) and
    its validity mask (B, L); the VIB's prior runs along the reply's own positions."""
    lengths = mask.sum(1)
    out = x.new_zeros(x.shape[0], int(lengths.max()), x.shape[-1])
    valid = torch.arange(out.shape[1], device=x.device)[None] < lengths[:, None]
    out[valid] = x[mask]
    return out, valid


# What the bridge reads at reply token i: "tokens" = h_i (P2); three diagnostics, "mean" = the
# reply's mean h at every token (what the reply-average probe reads), "label" = the true
# emotion's one-hot at every token and "critic" = the context critic's emotion probabilities
# (trained on the labels, detached) at every token; they separate what a bridge can carry from
# what it can extract from h
READS = ("tokens", "mean", "label", "critic")


class SASLM(nn.Module):
    """The thinker always runs (it feeds the critic and, in stage 2, learns its text loss); the
    bridge reads what ``reads`` says (:data:`READS`)."""

    def __init__(self, thinker: Thinker, head: IntentSpeechHead, emotions: list[str], reads: str = "tokens"):
        super().__init__()
        if reads not in READS:
            raise ValueError(f"the bridge reads one of {READS}, not {reads!r}")
        self.thinker = thinker.model
        self.tokenizer = thinker.tokenizer
        self.head = head
        self.emotions = list(emotions)
        self.reads = reads
        self.critic_speech = nn.Linear(head.lm.config.hidden_size, len(emotions))
        self.critic_context = nn.Linear(thinker.hidden_size, len(emotions))

    @property
    def vocab(self) -> SpeechVocab:
        return self.head.vocab

    @property
    def mode(self) -> str:
        return self.head.mode

    # --- the forward pass -------------------------------------------------------------------
    def forward_batch(self, items: list[Dialogue], sample: bool, text_loss: bool = False) -> dict:
        """Everything the losses and the critic need for ``items``: labelled log-probs of their
        speech tokens, the VIB's latents, pooled speech and context states, the text loss."""
        device = next(self.parameters()).device
        dialogue: DialogueBatch = encode_dialogues(self.tokenizer, [d.text for d in items],
                                                   [d.reply_start for d in items]).to(device)
        hidden, t_loss = thinker_states(self.thinker_wrapper, dialogue, text_loss)
        speech = collate([self.vocab.training_example(LANG, d.reply, d.tokens) for d in items],
                         self.vocab.pad_id)
        speech = {k: v.to(device) for k, v in speech.items()}
        ids = speech["input_ids"]
        intent = None
        if self.mode != "plain":
            intent = scatter_intent(text_mask(ids, self.vocab), self.bridge_input(items, hidden, dialogue))
        embeds, extra = self.head.embed(ids, intent, sample)
        states = decoder_states(self.head.lm, speech, embeds)
        logp, mask = labelled_logprobs(self.head.lm, states, speech["labels"])
        is_speech = (ids >= self.vocab.speech_offset).unsqueeze(-1).to(states.dtype)
        pooled = (states * is_speech).sum(1) / is_speech.sum(1).clamp(min=1.0)
        return {"logp": logp, "mask": mask, "extra": extra, "text_mask": text_mask(ids, self.vocab),
                "speech_pool": pooled, "context_pool": context_pool(hidden, dialogue), "text_loss": t_loss}

    def bridge_input(self, items: list[Dialogue], hidden: torch.Tensor, dialogue: DialogueBatch
                     ) -> list[torch.Tensor]:
        """Per item, (n_reply_chars, ·): what the bridge reads at each reply character, from the
        thinker's states ``hidden`` over ``dialogue`` (or, reading the label, from ``items``)."""
        if self.reads == "label":
            return self.label_states(items)
        states = reply_states(hidden, dialogue)
        if self.reads == "critic":
            probs = self.critic_context(context_pool(hidden, dialogue).detach().float()).softmax(-1).detach()
            states = [p.expand(len(h), -1) for p, h in zip(probs, states)]
        if self.reads == "mean":
            states = [h.mean(0, keepdim=True).expand_as(h) for h in states]
        return states

    def label_states(self, items: list[Dialogue]) -> list[torch.Tensor]:
        """Per item, (n_reply_chars, E): the one-hot of its emotion at every reply character."""
        device = next(self.parameters()).device
        out = []
        for d in items:
            if not 0 <= d.emotion < len(self.emotions):
                raise ValueError(f"a label-reading bridge needs each item's emotion index (got {d.emotion} "
                                 f"for reply {d.reply!r}); build the items with their emotions")
            row = F.one_hot(torch.tensor(d.emotion, device=device), len(self.emotions)).float()
            out.append(row.expand(len(self.vocab.text_ids(d.reply)), -1))
        return out

    @property
    def thinker_wrapper(self) -> Thinker:
        return Thinker(self.thinker, self.tokenizer)

    def critic_logits(self, out: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """(speech emotion logits, context emotion logits) from detached states."""
        return (self.critic_speech(out["speech_pool"].detach().float()),
                self.critic_context(out["context_pool"].detach().float()))

    # --- saving -----------------------------------------------------------------------------
    def save_pretrained(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.thinker_wrapper.save_pretrained(folder / "thinker")
        self.head.lm.save_pretrained(folder / "speech")
        self.vocab.save_pretrained(folder / "speech")
        bridge = {k: v for k, v in self.state_dict().items()
                  if not k.startswith(("thinker.", "head.lm."))}
        torch.save(bridge, folder / "bridge.pt")
        (folder / META_FILE).write_text(json.dumps({"mode": self.mode, "latent": self.head.latent,
                                                    "emotions": self.emotions, "reads": self.reads}))

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "SASLM":
        folder = Path(folder)
        meta = json.loads((folder / META_FILE).read_text())
        model = assemble(folder / "thinker", folder / "speech", meta["mode"], meta["latent"], meta["emotions"],
                         reads=meta.get("reads", "tokens"))
        model.load_state_dict(torch.load(folder / "bridge.pt", weights_only=True), strict=False)
        return model.eval()


def assemble(thinker_folder: Path, speech_folder: Path, mode: str, latent: int, emotions: list[str],
             logvar_init: float = 0.0, seed: int | None = None, reads: str = "tokens") -> SASLM:
    """A SASLM from a saved thinker and a saved speech LM (the plain TTS base), with a fresh
    bridge of ``mode`` (zero-initialised where P2 says so) that ``reads`` (:data:`READS`).
    ``seed`` seeds torch's generator first, so the bridge's initial weights (and the draws of
    the training that follows) do not depend on the state the process left it in (an earlier
    job in the same pool worker)."""
    thinker = Thinker.from_pretrained(thinker_folder)
    lm, vocab = load_slm(speech_folder)
    if seed is not None:
        torch.manual_seed(seed)
    width = len(emotions) if reads in ("label", "critic") else thinker.hidden_size
    head = IntentSpeechHead(lm, vocab, width, mode, latent, logvar_init)
    return SASLM(thinker, head, emotions, reads)


# --- stages 1 and 2 -----------------------------------------------------------------------------
def stage_loss(model: SASLM, out: dict, items: list[Dialogue], beta: float, cfg: SASLMConfig
               ) -> dict[str, torch.Tensor]:
    """L = reconstruction + β·KL (P2 Eq. 10) + the critic's losses (+ the text loss in stage 2)."""
    recon = -out["logp"].sum() / out["mask"].sum()
    terms = {"recon": recon}
    if model.mode == "vib":
        z, mu, logvar = (compact(out["extra"][k], out["text_mask"])[0] for k in ("z", "mu", "logvar"))
        valid = compact(out["extra"]["z"], out["text_mask"])[1]
        terms["kl"] = ar1_kl(z, mu, logvar, valid, cfg.prior_a, cfg.prior_sigma)
    labels = torch.tensor([d.emotion for d in items], device=recon.device)
    speech_logits, context_logits = model.critic_logits(out)
    terms["critic"] = F.cross_entropy(speech_logits, labels) + F.cross_entropy(context_logits, labels)
    total = recon + beta * terms.get("kl", 0.0) + cfg.critic_weight * terms["critic"]
    if out["text_loss"] is not None:
        terms["text"] = out["text_loss"]
        total = total + cfg.text_weight * out["text_loss"]
    terms["total"] = total
    return terms


def trainable(model: SASLM, stage: int, cfg: SASLMConfig) -> list[dict]:
    """Parameter groups of a stage: 1 = bridge and speech head, and the critics at their own
    rate (thinker frozen); 2 = also the thinker's last layer and final norm at its own learning
    rate (P2 §4.1), or with ``cfg.stage2_lora_rank`` LoRA adapters on all its layers instead."""
    for p in model.thinker.parameters():
        p.requires_grad_(False)
    critic = [p for n, p in model.named_parameters() if n.startswith("critic_")]
    bridge_names = ("head.project.", "head.vib.", "head.adaln.")
    bridge = [p for n, p in model.named_parameters() if n.startswith(bridge_names)]
    rest = [p for n, p in model.named_parameters() if not n.startswith(("thinker.", "critic_", *bridge_names))]
    groups = [{"params": rest, "lr": cfg.lr}, {"params": critic, "lr": cfg.critic_lr}]
    if bridge:                                      # the plain mode has none
        groups.append({"params": bridge, "lr": cfg.bridge_lr or cfg.lr})
    if stage == 2 and cfg.stage2_lora_rank:
        model.thinker = lora_adapters(model.thinker, cfg.stage2_lora_rank, cfg.stage2_lora_alpha)
        adapters = [p for p in model.thinker.parameters() if p.requires_grad]
        groups.append({"params": adapters, "lr": cfg.stage2_thinker_lr})
    elif stage == 2:
        decoder = model.thinker.get_decoder()
        last = [*decoder.layers[-1].parameters(), *decoder.norm.parameters()]
        for p in last:
            p.requires_grad_(True)
        groups.append({"params": last, "lr": cfg.stage2_thinker_lr})
    return groups


class StageLoss(nn.Module):
    """The stage-1/2 loss terms of a batch as a module's forward, so that DDP can wrap it (DDP
    synchronises the gradients of what ``forward`` computes)."""

    def __init__(self, model: SASLM, cfg: SASLMConfig, stage: int):
        super().__init__()
        self.model, self.cfg, self.stage = model, cfg, stage

    def forward(self, items: list[Dialogue], beta: float) -> dict[str, torch.Tensor]:
        out = self.model.forward_batch(items, sample=True, text_loss=self.stage == 2)
        return stage_loss(self.model, out, items, beta, self.cfg)


def train_stage(model: SASLM, items: list[Dialogue], cfg: SASLMConfig, stage: int, steps: int,
                seed: int, device: str = "cpu", log_every: int = 10) -> list[dict]:
    """Stage 1 or 2 for ``steps`` steps over ``items`` in length-bucketed batches; the KL weight
    follows P2's schedule over the stage's own steps. Returns the log.

    Runs under ``accelerate launch`` / ``torchrun`` as well: each process takes its share of
    every step's batch and DDP averages the gradients. bf16 autocast stays ours (accelerate's
    mixed precision is off), so one process computes exactly what the plain loop did."""
    import transformers
    from accelerate import DistributedDataParallelKwargs

    if steps <= 0:
        return []
    model.to(device).train()
    opt = torch.optim.AdamW(trainable(model, stage, cfg), weight_decay=0.0)
    sched = transformers.get_cosine_schedule_with_warmup(opt, max(1, steps // 10), steps)
    # the plain mode leaves the bridge unused, and the stages freeze different parts
    acc = make_accelerator(device, "no", kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    step_loss, opt, sched = acc.prepare(StageLoss(model, cfg, stage), opt, sched)
    rng = np.random.default_rng(seed + stage)
    lengths = np.array([len(d.tokens) for d in items])
    batches: list[np.ndarray] = []
    while len(batches) < steps:
        batches += bucketed_batches(lengths, cfg.batch_size, rng)
    use_bf16 = bf16_supported(device)
    log, t0 = [], time.perf_counter()
    for step in range(steps):
        batch = [items[i] for i in np.array_split(batches[step], acc.num_processes)[acc.process_index]]
        beta = kl_weight(step, steps, cfg.beta_max, cfg.beta_warm_share) if model.mode == "vib" else 0.0  # no KL
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=use_bf16):
            terms = step_loss(batch, beta)
        if not torch.isfinite(terms["total"]):
            raise TrainingError(f"stage {stage} loss became {terms['total'].item()} at step {step}; "
                                f"lower saslm.lr (now {cfg.lr})")
        acc.backward(terms["total"])
        acc.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if (step + 1) % log_every == 0 or step + 1 == steps:
            log.append({"stage": stage, "step": step + 1, "beta": beta, "seconds": time.perf_counter() - t0,
                        **{k: float(v.detach()) for k, v in terms.items()}})
    if hasattr(model.thinker, "merge_and_unload"):          # LoRA adapters of stage 2
        model.thinker = model.thinker.merge_and_unload()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return log


# --- inference ----------------------------------------------------------------------------------
@torch.inference_mode()
def intents(model: SASLM, items: list[Dialogue], batch_size: int = 64) -> list[torch.Tensor]:
    """What the bridge reads over each item's reply characters (h_i, unless ``model.reads``
    says otherwise), per item."""
    if model.reads == "label":
        return model.label_states(items)
    out: list[torch.Tensor] = []
    device = next(model.parameters()).device
    for start in range(0, len(items), batch_size):
        part = items[start:start + batch_size]
        batch = encode_dialogues(model.tokenizer, [d.text for d in part], [d.reply_start for d in part]).to(device)
        hidden, _ = thinker_states(model.thinker_wrapper, batch)
        out += [h.float() for h in model.bridge_input(part, hidden, batch)]
    return out


def speak(model: SASLM, items: list[Dialogue], *, temperature: float, top_p: float,
          tokens_per_char: float, batch_size: int, seed: int) -> list[np.ndarray]:
    """Speech tokens for each item's reply, conditioned on its dialogue through the bridge
    (z = μ); the plain mode ignores the dialogue."""
    model.eval()
    states = intents(model, items) if model.mode != "plain" else None

    def embed_prefix(ids: torch.Tensor, rows: list[int]) -> torch.Tensor:
        intent = scatter_intent(text_mask(ids, model.vocab), [states[r] for r in rows])
        return model.head.embed(ids, intent, sample=False)[0]

    requests = [Request(LANG, d.reply) for d in items]
    return generate_speech(model.head.lm, model.vocab, requests, temperature=temperature, top_p=top_p,
                           tokens_per_char=tokens_per_char, batch_size=batch_size, seed=seed,
                           embed_prefix=embed_prefix if states is not None else None)


def sequence_logprobs(model: SASLM, items: list[Dialogue], batch_size: int = 32) -> torch.Tensor:
    """Σ log π(y | dialogue) over each item's speech tokens and <eos> (z = μ); differentiable
    when grad is enabled."""
    parts = []
    for start in range(0, len(items), batch_size):
        out = model.forward_batch(items[start:start + batch_size], sample=False)
        parts.append(out["logp"].sum(-1))
    return torch.cat(parts)


@torch.inference_mode()
def critic_probs(model: SASLM, items: list[Dialogue], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The critic's emotion distributions: what each item's speech sounds like, and what its
    context calls for, (N, E) each."""
    speech, context = [], []
    for start in range(0, len(items), batch_size):
        out = model.forward_batch(items[start:start + batch_size], sample=False)
        s, c = model.critic_logits(out)
        speech.append(s.softmax(-1).cpu().numpy())
        context.append(c.softmax(-1).cpu().numpy())
    return np.concatenate(speech), np.concatenate(context)


@torch.inference_mode()
def token_features(model: SASLM, items: list[Dialogue], batch_size: int = 64) -> dict[str, list[torch.Tensor]]:
    """Per item, per reply token: the speech head's token embeddings e, the thinker's states h
    (what the bridge reads) and the VIB's means μ (z, what it writes; vib mode only), (T_i, ·)
    each."""
    feats: dict[str, list[torch.Tensor]] = {"e": [], "h": [], "z": []}
    states = intents(model, items, batch_size)
    embed = model.head.lm.get_input_embeddings()
    for d, h in zip(items, states):
        ids = torch.tensor(model.vocab.text_ids(d.reply), device=h.device)
        feats["e"].append(embed(ids).float())
        feats["h"].append(h)
        if model.mode == "vib":
            feats["z"].append(model.head.vib(h, sample=False)[1])
    return {k: v for k, v in feats.items() if v}


@torch.inference_mode()
def probe_features(model: SASLM, items: list[Dialogue], batch_size: int = 64) -> dict[str, np.ndarray]:
    """Per item, the reply averages of :func:`token_features` (P2 Fig. 5's probes), (N, ·) each."""
    return {k: np.stack([x.mean(0).cpu().numpy() for x in v])
            for k, v in token_features(model, items, batch_size).items()}
