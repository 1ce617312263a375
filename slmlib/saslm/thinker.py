"""The thinker (P2's Qwen2.5-Omni "Thinker" LLM): a causal LM that reads the dialogue and whose
last-layer states over the reply are the h_i the bridge turns into intent.

By default a tiny Llama and a byte-level BPE tokenizer are trained here on the training
dialogues (``tokenizers`` trains the tokenizer, transformers the model); ``thinker_path`` loads
any local HF causal LM folder with its tokenizer instead. Either way the thinker's tokens differ
from the speech head's characters, so each reply character takes the state of the thinker token
that contains it (the tokenizer's offset mapping), which works for any fast tokenizer.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from slmlib.saslm.config import SASLMConfig

SPECIALS = ("<pad>", "<bos>", "<eos>")


def train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE fast tokenizer trained on ``texts`` (offsets map tokens to characters)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<bos>",
                                   eos_token="<eos>")


@dataclass
class Thinker:
    model: torch.nn.Module            # a transformers causal LM
    tokenizer: object                 # its fast tokenizer

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    def save_pretrained(self, folder: Path) -> None:
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "Thinker":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"thinker folder {folder} does not exist; no model is downloaded "
                                    "at run time, save one (model and tokenizer) with save_pretrained")
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if not tokenizer.is_fast:
            raise ValueError(f"the thinker at {folder} has a slow tokenizer; SASLM maps reply characters "
                             "to thinker tokens with a fast tokenizer's offsets")
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return cls(AutoModelForCausalLM.from_pretrained(folder).eval(), tokenizer)


def build_thinker(texts: list[str], cfg: SASLMConfig, seed: int) -> Thinker:
    import transformers

    tokenizer = train_tokenizer(texts, cfg.thinker_vocab)
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.thinker_hidden, num_hidden_layers=cfg.thinker_layers,
        num_attention_heads=cfg.thinker_heads, num_key_value_heads=cfg.thinker_heads,
        intermediate_size=3 * cfg.thinker_hidden, max_position_embeddings=256, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id)
    return Thinker(transformers.AutoModelForCausalLM.from_config(config), tokenizer)


@dataclass
class DialogueBatch:
    """Thinker inputs for a batch of dialogue texts, and where each reply's characters sit."""

    input_ids: torch.Tensor           # (B, T), right-padded
    attention_mask: torch.Tensor
    reply_tokens: list[torch.Tensor]  # per row: the thinker token index of each reply character
    context_mask: torch.Tensor        # (B, T): tokens before the reply (the critic reads these)

    def to(self, device) -> "DialogueBatch":
        return DialogueBatch(self.input_ids.to(device), self.attention_mask.to(device),
                             [r.to(device) for r in self.reply_tokens], self.context_mask.to(device))


def encode_dialogues(tokenizer, texts: list[str], reply_starts: list[int]) -> DialogueBatch:
    """Tokenise ``texts`` (each the thinker text of a dialogue whose reply starts at character
    ``reply_starts[i]`` and runs to the end)."""
    enc = tokenizer(texts, return_offsets_mapping=True, padding=True, return_tensors="pt",
                    add_special_tokens=False)
    offsets = enc.pop("offset_mapping")
    reply, context = [], torch.zeros_like(enc["input_ids"], dtype=torch.bool)
    for row, (text, start) in enumerate(zip(texts, reply_starts)):
        ends = offsets[row, :, 1].numpy()
        valid = enc["attention_mask"][row].numpy().astype(bool)
        ends = np.where(valid, ends, np.iinfo(np.int64).max)
        # the token holding character c is the first whose end lies beyond c
        chars = np.arange(start, len(text))
        reply.append(torch.from_numpy(np.searchsorted(ends, chars, side="right")))
        context[row] = torch.from_numpy(valid & (offsets[row, :, 1].numpy() <= start))
    return DialogueBatch(enc["input_ids"], enc["attention_mask"], reply, context)


def thinker_states(thinker: Thinker, batch: DialogueBatch, text_loss: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The thinker's last-layer states (B, T, H) and, with ``text_loss``, its next-token loss
    on the dialogue text (stage 2)."""
    labels = batch.input_ids.masked_fill(batch.attention_mask == 0, -100) if text_loss else None
    out = thinker.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=labels,
                        output_hidden_states=True)
    return out.hidden_states[-1], out.loss


def reply_states(hidden: torch.Tensor, batch: DialogueBatch) -> list[torch.Tensor]:
    """Per row, (n_reply_chars, H): h_i of each reply character."""
    return [hidden[b, idx] for b, idx in enumerate(batch.reply_tokens)]


def context_pool(hidden: torch.Tensor, batch: DialogueBatch) -> torch.Tensor:
    """(B, H): the mean state over the context tokens."""
    m = batch.context_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


def pretrain_thinker(texts: list[str], cfg: SASLMConfig, seed: int, log_every: int = 50
                     ) -> tuple[Thinker, list[dict]]:
    """Train the tiny thinker as a language model of the dialogues (random batches, cosine
    schedule); returns it and its loss log."""
    import transformers

    thinker = build_thinker(texts, cfg, seed)
    model, tok = thinker.model, thinker.tokenizer
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.thinker_lr, weight_decay=0.01)
    sched = transformers.get_cosine_schedule_with_warmup(opt, max(1, cfg.thinker_steps // 20), cfg.thinker_steps)
    rng = np.random.default_rng(seed)
    log, t0 = [], time.perf_counter()
    model.train()
    for step in range(cfg.thinker_steps):
        rows = rng.choice(len(texts), size=min(cfg.thinker_batch, len(texts)), replace=False)
        enc = tok([texts[i] for i in rows], padding=True, return_tensors="pt", add_special_tokens=False)
        loss = model(**enc, labels=enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)).loss
        if not torch.isfinite(loss):
            raise RuntimeError(f"thinker loss became {loss.item()} at step {step}; lower thinker_lr")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if (step + 1) % log_every == 0 or step + 1 == cfg.thinker_steps:
            log.append({"step": step + 1, "loss": loss.item(), "seconds": time.perf_counter() - t0})
    model.eval()
    return thinker, log
