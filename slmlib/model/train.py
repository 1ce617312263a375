"""Build the SLM (a Hugging Face causal LM) and train it with accelerate.

The loop is a plain accelerate loop (not ``transformers.Trainer``) because it must resume from
the stage cache's checkpoints, bucket batches by length and stay comparable step for step
across synthetic ratios; it is the loop of the accelerate docs plus those three things. The
same code runs on CPU (bf16 autocast where the processor has bf16 units), one GPU, or several
under ``accelerate launch``.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from slmlib.hardware import bf16_supported
from slmlib.model.config import SLMConfig
from slmlib.model.data import bucketed_batches, collate
from slmlib.model.factorised import FACTORS, factorise, load_causal_lm
from slmlib.model.positions import LAYOUTS, declare, position_ids
from slmlib.model.vocab import IGNORE, SpeechVocab

CHECKPOINT = "checkpoint.pt"
LOG_FILE = "train_log.json"


class TrainingError(RuntimeError):
    """Training that cannot go on (NaN loss, no data)."""


def make_accelerator(device: str, mixed_precision: str, **options):
    """An Accelerator for one training run. accelerate keeps one process-wide state and refuses a
    second Accelerator with another precision, while our stages differ (SFT uses accelerate's bf16,
    DPO and SASLM's stages their own autocast) and may follow each other in one worker process: the
    precision part of that state is cleared first (the distributed part, if any, is kept). Every
    process takes a share of the same batch, so the schedule advances once per step, not once per
    process (accelerate's default when each process has a batch of its own)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state()
    return Accelerator(cpu=not device.startswith("cuda"), mixed_precision=mixed_precision,
                       step_scheduler_with_optimizer=False, **options)


def build_model(cfg: SLMConfig, vocab: SpeechVocab, seed: int):
    """A tiny randomly initialised Llama/Qwen2 (with a factorised speech embedding and head when
    ``cfg.speech_head`` says so), or a local pretrained causal LM (one of ours, or any HF one
    whose embedding matrix is resized to this vocabulary, new rows at the mean of the old)."""
    import transformers

    heads = ("full", "factorised")
    if cfg.speech_head not in heads:
        raise ValueError(f"slm.speech_head {cfg.speech_head!r}: use one of {heads}")
    if cfg.positions not in LAYOUTS:
        raise ValueError(f"slm.positions {cfg.positions!r}: use one of {LAYOUTS}")
    torch.manual_seed(seed)
    if cfg.model_name_or_path:
        path = Path(cfg.model_name_or_path)
        if not path.is_dir():
            raise FileNotFoundError(f"model_name_or_path {path} is not a local folder; no model is "
                                    "downloaded at run time, save one with save_pretrained first")
        model = load_causal_lm(path)
        if model.config.vocab_size != vocab.size:
            if getattr(model.config, FACTORS, None):
                raise ValueError(f"{path} has a factorised speech head for {model.config.vocab_size} tokens, "
                                 f"the vocabulary has {vocab.size}: train it with the vocabulary it was built for")
            model.resize_token_embeddings(vocab.size, mean_resizing=True)
    else:
        kinds = {"llama": transformers.LlamaConfig, "qwen2": transformers.Qwen2Config}
        if cfg.architecture not in kinds:
            raise ValueError(f"architecture {cfg.architecture!r}: use one of {sorted(kinds)}")
        config = kinds[cfg.architecture](
            vocab_size=vocab.size, hidden_size=cfg.hidden_size, num_hidden_layers=cfg.layers,
            num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
            intermediate_size=cfg.intermediate_size, max_position_embeddings=cfg.max_positions,
            tie_word_embeddings=True)
        model = transformers.AutoModelForCausalLM.from_config(config)
        if cfg.speech_head == "factorised":
            model = factorise(model, vocab)
    model.config.pad_token_id = vocab.pad_id
    model.config.bos_token_id = vocab.id("<bos>")
    model.config.eos_token_id = vocab.eos_id
    return model


def with_lora(model, vocab: SpeechVocab, cfg: SLMConfig):
    """LoRA adapters (peft) on every linear layer of a pretrained backbone, and the rows of the
    tokens we added (specials, language tags, speech tokens) trainable in the embedding (and in
    an untied output layer, trained whole): the backbone's own weights stay frozen."""
    if not cfg.model_name_or_path:
        raise ValueError("slm.lora_rank needs a pretrained backbone (slm.model_name_or_path); a model "
                         "trained from scratch trains in full")
    if getattr(model.config, FACTORS, None):
        raise ValueError("LoRA trains chosen rows of a plain embedding; a model with a factorised speech "
                         "head (slm.speech_head='factorised') trains in full: set slm.lora_rank=0")
    new_rows = list(range(vocab.id("<pad>"), vocab.size))
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    return lora_adapters(model, cfg.lora_rank, cfg.lora_alpha, trainable_token_indices={"embed_tokens": new_rows},
                         modules_to_save=None if tied else ["lm_head"])


def lora_adapters(model, rank: int, alpha: int, **options):
    """``model`` wrapped by peft with LoRA adapters on every linear layer (only they train);
    ``options`` go to peft's ``LoraConfig``. ``merge_and_unload()`` gives a plain model back."""
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=rank, lora_alpha=alpha, target_modules="all-linear", **options))


def target_logprobs(model, batch: dict[str, torch.Tensor], inputs_embeds: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities of each labelled next token, (B, T-1), and the mask of those positions.

    ``inputs_embeds`` replaces the embedding lookup (SASLM modulates the text embeddings).
    """
    return labelled_logprobs(model, decoder_states(model, batch, inputs_embeds), batch["labels"])


def decoder_states(model, batch: dict[str, torch.Tensor], inputs_embeds: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """The transformer's last hidden states (B, T, H), before the output layer."""
    ids = None if inputs_embeds is not None else batch["input_ids"]
    positions = position_ids(model, batch["input_ids"], batch["attention_mask"])
    return model.get_decoder()(input_ids=ids, inputs_embeds=inputs_embeds, position_ids=positions,
                               attention_mask=batch["attention_mask"]).last_hidden_state


def labelled_logprobs(model, hidden: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`target_logprobs` from given hidden states.

    The output layer runs only on positions whose next token carries a label: with a 13k-token
    speech vocabulary the head is most of the compute, and text and prompt positions carry no
    loss (the speech-only loss of the issue, computed without wasting the head on them).
    """
    targets = labels[:, 1:]
    mask = targets != IGNORE
    logits = model.get_output_embeddings()(hidden[:, :-1][mask]).float()
    picked = logits.log_softmax(-1).gather(-1, targets[mask].unsqueeze(-1)).squeeze(-1)
    out = torch.zeros(targets.shape, dtype=picked.dtype, device=picked.device)
    out[mask] = picked
    return out, mask


class SpeechLoss(torch.nn.Module):
    """The training step's forward (:func:`target_logprobs`) as a module, so that under
    ``accelerate launch`` the step runs through DDP's forward and the gradients are averaged
    across processes; in one process it is the model itself with one more name."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return target_logprobs(self.model, batch)


def batch_schedule(lengths: np.ndarray, cfg: SLMConfig, seed: int) -> list[np.ndarray]:
    """The batches of all ``cfg.steps`` steps, epoch after epoch: fixed by the seed, so a
    resumed run sees exactly the batches an uninterrupted one would."""
    if len(lengths) == 0:
        raise TrainingError("no training examples")
    rng = np.random.default_rng(seed)
    batches: list[np.ndarray] = []
    while len(batches) < cfg.steps:
        batches += bucketed_batches(lengths, cfg.batch_size, rng)
    return batches[:cfg.steps]


def train_slm(examples: list[tuple[list[int], list[int]]], vocab: SpeechVocab, cfg: SLMConfig,
              seed: int, out: Path, resume_dir: Path | None = None, device: str = "cpu",
              log_every: int = 10) -> list[dict]:
    """Train for ``cfg.steps`` steps and save the model (``save_pretrained``) and vocabulary into
    ``out``. With ``resume_dir``, a checkpoint is written there every ``cfg.checkpoint_every``
    steps and picked up again by a rerun. Returns the log (step, loss, lr, tokens/s)."""
    import transformers
    from accelerate.utils import DistributedType

    acc = make_accelerator(device, "bf16" if cfg.bf16 and bf16_supported(device) else "no")
    model = build_model(cfg, vocab, seed)
    if cfg.positions == "aligned":
        declare(model, vocab, examples)
    if cfg.lora_rank:
        model = with_lora(model, vocab, cfg)
    trainable = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trainable if p.ndim >= 2]
    no_decay = [p for p in trainable if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg.lr, betas=(0.9, 0.98))
    sched = transformers.get_cosine_with_min_lr_schedule_with_warmup(
        opt, cfg.warmup, cfg.steps, min_lr_rate=cfg.min_lr_ratio)
    step_loss, opt, sched = acc.prepare(SpeechLoss(model), opt, sched)
    # FSDP shards the weights and the optimiser state across processes: the single-file
    # checkpoint below cannot hold them, so such runs restart from step 0 when interrupted
    sharded = acc.distributed_type == DistributedType.FSDP
    if sharded and cfg.lora_rank:
        raise ValueError("LoRA adapters are merged on one process when saving, which FSDP's sharded "
                         "weights do not allow: train LoRA with the single_gpu or multi_gpu config")

    lengths = np.array([len(ids) for ids, _ in examples])
    batches = batch_schedule(lengths, cfg, seed)
    start, log = 0, []
    ckpt = resume_dir / CHECKPOINT if resume_dir else None
    if ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start, log = state["step"], state["log"]

    step_loss.train()
    t0, tokens = time.perf_counter(), 0
    for step in range(start, cfg.steps):
        # under `accelerate launch` each process takes its share of the step's batch (DDP averages
        # the gradients); one process takes all of it, exactly as without accelerate
        part = np.array_split(batches[step], acc.num_processes)[acc.process_index]
        batch = collate([examples[i] for i in part], vocab.pad_id)
        batch = {k: v.to(acc.device) for k, v in batch.items()}
        with acc.autocast():
            logp, mask = step_loss(batch)
        loss = -logp.sum() / mask.sum()
        if not torch.isfinite(loss):
            raise TrainingError(f"loss became {loss.item()} at step {step}; lower the learning "
                                f"rate (now {cfg.lr}) or raise warm-up; the last checkpoint is kept")
        acc.backward(loss)
        acc.clip_grad_norm_(step_loss.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
        if (step + 1) % log_every == 0 or step + 1 == cfg.steps:
            seconds = time.perf_counter() - t0
            log.append({"step": step + 1, "loss": loss.item(), "lr": sched.get_last_lr()[0],
                        "tokens_per_s": tokens / max(seconds, 1e-9)})
            t0, tokens = time.perf_counter(), 0
        if (ckpt is not None and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps
                and acc.is_main_process and not sharded):
            _save_checkpoint(ckpt, model, opt, sched, step + 1, log)

    acc.wait_for_everyone()
    # the full weights, gathered on the main process when FSDP shards them (a collective call)
    weights = None if cfg.lora_rank else acc.get_state_dict(step_loss)
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        if cfg.lora_rank:
            model.merge_and_unload().save_pretrained(out)     # a plain HF model again: loads without peft
        else:
            prefix = "model."                                 # SpeechLoss holds the model as .model
            model.save_pretrained(out, state_dict={k.removeprefix(prefix): v for k, v in weights.items()})
        vocab.save_pretrained(out)
        (out / LOG_FILE).write_text(json.dumps(log))
        if ckpt is not None and ckpt.exists():
            ckpt.unlink()
    return log


def _save_checkpoint(path: Path, model, opt, sched, step: int, log: list[dict]) -> None:
    """Atomic: a run killed while writing keeps the previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "step": step, "log": log}, tmp)
    os.replace(tmp, path)


def load_slm(folder: str | Path):
    """(model in eval mode, vocabulary) from a folder ``train_slm`` wrote."""
    model = load_causal_lm(folder)
    model.eval()
    return model, SpeechVocab.from_pretrained(folder)


def epochs(cfg: SLMConfig, n_examples: int) -> float:
    """How many passes over the data the step budget makes."""
    return cfg.steps * cfg.batch_size / max(n_examples, 1)
