"""SASLM's parameters (notebook 05; one frozen section of :class:`slmlib.config.Config`)."""
from __future__ import annotations

from dataclasses import dataclass

from slmlib.later import later


@dataclass(frozen=True)
class SASLMConfig:
    """P2's three stages at the world's scale. P2 gives the VIB prior (AR(1), a = 0.95,
    σ_p = 0.5), the β schedule (0 for 10 % of the steps, cosine to 0.5), K = 32 rollouts and the
    WER gate τ = 0.2; everything else is ours (P2's "not found" list, documented here):

    * thinker: a tiny Llama over dialogue text with a byte-level BPE tokenizer trained on the
      training dialogues (``thinker_path``: any local HF causal LM folder with its tokenizer);
      h_i = its last layer's output at the token that holds reply character i;
    * speech head (P2: CosyVoice2's LM): the notebook-01 SLM trained as a plain English TTS on
      the training split's real and filtered synthetic speech (alpha = ``base_alpha``), no
      context; every bridge then fine-tunes it on the dialogues' real expressive replies;
    * stage 1 ``stage1_steps`` (thinker frozen), stage 2 ``stage2_steps`` (+ the thinker's last
      layer at ``thinker_lr``, + its text loss); every variant gets the same steps;
    * the critic (P2: the 3B model listening to itself): two linear heads trained in stages 1-2
      on the training replies' emotion labels, one reading the speech head's states over the
      speech tokens, one the thinker's states over the context; they never feed the speech path
      (but in notebook 05's "critic" diagnostic bridge, which reads the context head's output);
    * stage 3: ``rollout_texts`` training dialogues x ``rollouts`` samples at ``temperature``,
      anchor = the plain TTS base; the gate is on the ASR judge's CER (``gate_cer`` above the
      anchor's CER: our small judge reads real English resynthesis at CER 0.42, so P2's absolute
      WER 0.2 would gate everything); scores summed over the three rubric dimensions, ties with
      the anchor dropped; anchored loss with sequence-summed log-ratios, ``reward_beta``.
    """

    latent: int = 16                      # d_z (P2: not found)
    prior_a: float = 0.95
    prior_sigma: float = 0.5
    beta_max: float = 0.5
    beta_warm_share: float = 0.1
    # thinker (every field named thinker_* keys the cached pre-training stage: name others otherwise)
    thinker_path: str = ""                # a local HF causal LM folder with tokenizer; "" = train one
    thinker_vocab: int = 400
    thinker_hidden: int = 128
    thinker_layers: int = 3
    thinker_heads: int = 4
    thinker_steps: int = 600
    thinker_batch: int = 32
    thinker_lr: float = 1e-3              # pre-training; stage 2 uses ``stage2_thinker_lr``
    # the plain TTS base and the bridges
    base_alpha: float = 0.5               # synthetic share of the base TTS's training set
    base_steps: int = 300
    stage1_steps: int = 150
    stage2_steps: int = 90
    batch_size: int = 32
    lr: float = 5e-4                      # speech head and bridge, stages 1-2
    stage2_thinker_lr: float = 1e-4
    # stage 2 tunes LoRA adapters (peft) on every linear layer of the thinker instead of its last
    # layer and final norm in full (for a big thinker by path); merged into it after the stage
    stage2_lora_rank: int = later(0)
    stage2_lora_alpha: int = later(32)
    text_weight: float = 1.0              # stage 2's thinker text loss
    critic_weight: float = 1.0
    critic_lr: float = 5e-3               # the critic's linear heads learn faster than the bridge
    bridge_lr: float = later(0.0)         # the bridge's own rate in stages 1-2 (0 = ``lr``)
    vib_logvar_init: float = later(0.0)   # initial log σ² of the VIB (bias of its log-variance output)
    # stage 3: self-reward alignment
    rollout_texts: int = 96
    rollouts: int = 4                     # K (P2: 32)
    temperature: float = 0.9
    gate_cer: float = 0.2
    reward_beta: float = 0.1
    stage3_steps: int = 60
    stage3_batch: int = 16
    stage3_lr: float = 5e-5
    seed: int = 0
    # every system speaks the test replies with this many sampling seeds (seed, seed + 1, ...),
    # pooled with CIs over dialogues: one model's EmoAlign moved by up to 14 points between seeds
    eval_seeds: int = later(3)

    def __post_init__(self) -> None:
        if self.eval_seeds < 1:
            raise ValueError(f"saslm.eval_seeds must be at least 1 (got {self.eval_seeds})")

    @classmethod
    def smoke(cls) -> "SASLMConfig":
        return cls(thinker_vocab=300, thinker_hidden=32, thinker_layers=2, thinker_heads=2,
                   thinker_steps=20, base_steps=20, stage1_steps=8, stage2_steps=6, batch_size=8,
                   rollout_texts=4, rollouts=2, stage3_steps=4, stage3_batch=4, eval_seeds=2)
