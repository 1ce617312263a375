"""The spoken language model's parameters (one frozen section of :class:`slmlib.config.Config`)."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from slmlib.later import later


# sampling settings, read only at generation and part of every evaluation's own cache key
# (generate_batch is not: the batch a request lands in changes its sampled tokens)
GENERATION = ("temperature", "top_p", "tokens_per_char")


@dataclass(frozen=True)
class SLMConfig:
    """A Hugging Face causal LM over text characters, speech tokens and a few specials.

    The default is a tiny Llama that trains at a few thousand tokens/s on one CPU core in bf16
    autocast (measured in ../shared/ENVIRONMENT.md §5); ``model_name_or_path`` swaps in any
    local HF causal LM (Qwen2.5-0.5B, ...) whose vocabulary is then extended.

    Training is a fixed step budget (not a time limit, which would make runs differ with
    machine load) with batches of ``batch_size`` sequences of similar length.
    """

    architecture: str = "llama"         # "llama" or "qwen2" (for the tiny config)
    model_name_or_path: str = ""        # a local HF causal LM folder; "" = tiny random init
    hidden_size: int = 256
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 768
    max_positions: int = 512
    # "full": one embedding row and one output row per speech token (tied); "factorised": a
    # speech token (content, pitch) read in as content + pitch embeddings and scored as
    # a_c(h) + b_p(h) + T[c, p] (slmlib.model.factorised); models trained from scratch only
    speech_head: str = later("full")
    # "aligned": speech frame t at the position of the character it voices, at the language's
    # mean frame rate (slmlib.model.positions); "sequential": positions 0, 1, 2, ..., the layout
    # of every model before 2026-12-01 (hashed either way: caches of the two never mix). Measured
    # on 01's alpha = 100 % model (Thai, 400 steps, seed 0): CER 0.770 -> 0.595, see README.
    # A pretrained backbone's text positions are spread out too; "sequential" keeps them as trained
    positions: str = "aligned"
    steps: int = 400
    batch_size: int = 32
    lr: float = 2e-3
    min_lr_ratio: float = 0.1           # the cosine schedule ends at lr * min_lr_ratio
    warmup: int = 40
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    bf16: bool = True                   # autocast where the hardware supports bf16
    prompt_prob: float = 0.3            # share of training sequences with a style prompt
    prompt_seconds: float = 3.0         # prompt length cap (P1's SMOS reference is 3 s)
    checkpoint_every: int = 200         # steps between resumable checkpoints
    # a pretrained backbone (model_name_or_path) can be tuned with LoRA (peft) instead of in full:
    # adapters on every linear layer of the transformer, plus the new token rows (specials,
    # language tags, speech tokens) of the embedding; merged into the model when saved
    lora_rank: int = later(0)           # 0 = full fine-tuning
    lora_alpha: int = later(32)
    # run SFT, DPO and generation as scripts (slmlib.train, slmlib.align.dpo_job, slmlib.generate)
    # under this command instead of in the notebook's process,
    # e.g. "accelerate launch --config_file configs/accelerate/multi_gpu.yaml",
    # "torchrun --nproc_per_node 2" or "python"; "-m <script> <job.json>" is appended and the
    # command runs in the project folder. "" = in process. One process gives the same results.
    launch: str = later("")
    # generation
    temperature: float = 0.9
    top_p: float = 0.9
    tokens_per_char: float = 4.0        # maximum speech tokens per text character (length cap)
    generate_batch: int = 64

    def sampling(self) -> dict[str, float]:
        """The sampling settings by name: what every cache key of generated speech includes."""
        return {name: getattr(self, name) for name in GENERATION}

    def training_part(self) -> "SLMConfig":
        """This config with the generation settings at their defaults: what a trained model
        depends on, so a cache key built from it lets ``-p slm.temperature=0.3`` re-judge a
        model without retraining it."""
        return replace(self, **{f.name: f.default for f in fields(self) if f.name in GENERATION})

    @classmethod
    def smoke(cls) -> "SLMConfig":
        return cls(hidden_size=64, layers=2, heads=2, intermediate_size=128, steps=30,
                   batch_size=16, warmup=5, checkpoint_every=10, generate_batch=32)
