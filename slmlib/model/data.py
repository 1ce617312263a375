"""Training examples and length-bucketed batches for the SLM.

Each example is one utterance: language, text, codec tokens, and, with probability
``prompt_prob``, a style prompt cut from another utterance of the same speaker (P1's style
prefix; never the utterance itself, so the answer cannot leak into the prompt).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from slmlib.model.vocab import IGNORE, SpeechVocab


@dataclass(frozen=True)
class Utterance:
    lang: str
    text: str
    speaker: str
    tokens: np.ndarray


def promptable(speakers: list[str], left_out: str) -> np.ndarray:
    """Which utterances have another utterance of their speaker to take a style prompt from (a
    prompt is never the target itself); the rest, a real-corpus speaker with a single clip, are
    counted in a warning that starts with ``left_out`` (a phrase with ``{n}``)."""
    import warnings
    from collections import Counter

    clips = Counter(speakers)
    keep = np.array([clips[s] >= 2 for s in speakers], dtype=bool)
    if not keep.all():
        warnings.warn(left_out.format(n=int((~keep).sum())) + " whose speaker has no other clip to take a "
                      "style prompt from")
    return keep


def with_prompts(utts: list[Utterance], prob: float, max_tokens: int, seed: int
                 ) -> list[tuple[Utterance, np.ndarray | None]]:
    """Pair each utterance with a prompt (the first ``max_tokens`` of another utterance of the
    same speaker) with probability ``prob``, else with none."""
    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list[int]] = {}
    for i, u in enumerate(utts):
        by_speaker.setdefault(u.speaker, []).append(i)
    out = []
    for i, u in enumerate(utts):
        others = [j for j in by_speaker[u.speaker] if j != i]
        if others and rng.random() < prob:
            out.append((u, utts[others[rng.integers(len(others))]].tokens[:max_tokens]))
        else:
            out.append((u, None))
    return out


def encode_examples(vocab: SpeechVocab, pairs: list[tuple[Utterance, np.ndarray | None]]
                    ) -> list[tuple[list[int], list[int]]]:
    return [vocab.training_example(u.lang, u.text, u.tokens, p) for u, p in pairs]


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                     bucket_batches: int = 50) -> list[np.ndarray]:
    """One epoch of batches of similar-length examples, in random order.

    Shuffle, cut into chunks of ``bucket_batches`` batches, sort each chunk by length and cut
    it into batches: padding waste falls (measured in bench/) while batches stay random.
    """
    order = rng.permutation(len(lengths))
    chunk = batch_size * bucket_batches
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start:start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def collate(examples: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded input ids, attention mask and labels (padding labelled IGNORE)."""
    width = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (x, y) in enumerate(examples):
        ids[row, :len(x)] = torch.tensor(x)
        labels[row, :len(y)] = torch.tensor(y)
        mask[row, :len(x)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
