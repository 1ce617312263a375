"""The ceiling of direct conditioning: the base TTS told the emotion label itself.

No thinker and no bridge: a learned embedding per emotion is added to the language tag's
embedding (the same as giving the TTS one tag token per emotion, initialised next to its
language tag), and the whole model fine-tunes on the same replies with the same steps and
learning rate as the bridges' stages 1-2. Unlike the bridges (zero-initialised, P2's design),
the label has a gradient path from the first step. If even this model speaks the intended
emotion no better than the plain TTS, the limit is the speech LM and the data, not the bridge.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from slmlib.model.data import bucketed_batches, collate
from slmlib.model.generate import Request, generate_speech
from slmlib.hardware import bf16_supported
from slmlib.model.train import TrainingError, load_slm, target_logprobs
from slmlib.model.vocab import SpeechVocab
from slmlib.saslm.config import SASLMConfig

TAGS_FILE = "emotion_tags.pt"


class EmotionTagTTS(nn.Module):
    def __init__(self, lm, vocab: SpeechVocab, lang: str, n_emotions: int):
        super().__init__()
        self.lm, self.vocab, self.lang = lm, vocab, lang
        table = lm.get_input_embeddings().weight
        self.tags = nn.Embedding(n_emotions, table.shape[1])
        # offsets of the size of a typical embedding row's spread, so each tag starts as its own token
        nn.init.normal_(self.tags.weight, std=float(table.detach().float().std()))

    def embed(self, ids: torch.Tensor, emotions: torch.Tensor) -> torch.Tensor:
        """Token embeddings with each row's emotion added at its language tag."""
        embeds = self.lm.get_input_embeddings()(ids)
        at_tag = (ids == self.vocab.lang_id(self.lang)).unsqueeze(-1).to(embeds.dtype)
        return embeds + at_tag * self.tags(emotions).unsqueeze(1).to(embeds.dtype)

    def batch(self, replies: list[str], tokens: list[np.ndarray], emotions: list[int]) -> tuple[dict, torch.Tensor]:
        device = self.tags.weight.device
        batch = collate([self.vocab.training_example(self.lang, r, t) for r, t in zip(replies, tokens)],
                        self.vocab.pad_id)
        batch = {k: v.to(device) for k, v in batch.items()}
        return batch, self.embed(batch["input_ids"], torch.tensor(emotions, device=device))

    def save_pretrained(self, folder: Path) -> None:
        self.lm.save_pretrained(folder)
        self.vocab.save_pretrained(folder)
        torch.save(self.tags.state_dict(), folder / TAGS_FILE)
        (folder / "emotion_tags.json").write_text(json.dumps({"lang": self.lang, "n": self.tags.num_embeddings}))

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "EmotionTagTTS":
        folder = Path(folder)
        meta = json.loads((folder / "emotion_tags.json").read_text())
        lm, vocab = load_slm(folder)
        model = cls(lm, vocab, meta["lang"], meta["n"])
        model.tags.load_state_dict(torch.load(folder / TAGS_FILE, weights_only=True))
        return model.eval()


def train_tagged(model: EmotionTagTTS, replies: list[str], tokens: list[np.ndarray], emotions: list[int],
                 cfg: SASLMConfig, steps: int, seed: int, device: str = "cpu", log_every: int = 10) -> list[dict]:
    """Fine-tune the LM and the tags on (reply, speech, emotion) in length-bucketed batches at
    the bridges' learning rate (cosine schedule, 10 % warm-up); returns the log."""
    import transformers

    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = transformers.get_cosine_schedule_with_warmup(opt, max(1, steps // 10), steps)
    rng = np.random.default_rng(seed)
    lengths = np.array([len(t) for t in tokens])
    batches: list[np.ndarray] = []
    while len(batches) < steps:
        batches += bucketed_batches(lengths, cfg.batch_size, rng)
    log, t0 = [], time.perf_counter()
    for step in range(steps):
        idx = batches[step]
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=bf16_supported(device)):
            batch, embeds = model.batch([replies[i] for i in idx], [tokens[i] for i in idx],
                                        [emotions[i] for i in idx])
            logp, mask = target_logprobs(model.lm, batch, embeds)
        loss = -logp.sum() / mask.sum()
        if not torch.isfinite(loss):
            raise TrainingError(f"the emotion-tag TTS's loss became {loss.item()} at step {step}; "
                                f"lower saslm.lr (now {cfg.lr})")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if (step + 1) % log_every == 0 or step + 1 == steps:
            log.append({"stage": 1, "step": step + 1, "recon": loss.item(), "seconds": time.perf_counter() - t0})
    model.eval()
    return log


def speak_tagged(model: EmotionTagTTS, replies: list[str], emotions: list[int], *, temperature: float,
                 top_p: float, tokens_per_char: float, batch_size: int, seed: int) -> list[np.ndarray]:
    """Speech tokens for each reply told its emotion."""
    labels = torch.tensor(emotions)

    def embed_prefix(ids: torch.Tensor, rows: list[int]) -> torch.Tensor:
        return model.embed(ids, labels[rows].to(ids.device))

    return generate_speech(model.lm, model.vocab, [Request(model.lang, r) for r in replies], temperature=temperature,
                           top_p=top_p, tokens_per_char=tokens_per_char, batch_size=batch_size, seed=seed,
                           embed_prefix=embed_prefix)


@torch.inference_mode()
def nats_per_token(model: EmotionTagTTS, replies: list[str], tokens: list[np.ndarray], emotions: list[int],
                   batch_size: int = 32) -> np.ndarray:
    """Teacher-forced loss of each recording (nats per speech token and <eos>) given ``emotions``."""
    out = []
    for s in range(0, len(replies), batch_size):
        batch, embeds = model.batch(replies[s:s + batch_size], tokens[s:s + batch_size], emotions[s:s + batch_size])
        logp, mask = target_logprobs(model.lm, batch, embeds)
        out += (-(logp * mask).sum(1) / mask.sum(1)).float().tolist()
    return np.array(out)
