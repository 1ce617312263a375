"""Text-aligned position ids: speech frame t sits at the position of the character it speaks.

With plain positions (0, 1, 2, ...) the rotary distance between a speech frame and the
character it voices grows with the frame index and with the text length, and a small model
has to learn that moving alignment from a few thousand utterances. Here the positions are laid
out so that the distance is about zero from the start:

    <bos> <lang> [<prompt> ...] <text>   c_1 ...  c_L            <speech>  s_1  s_2 ... <eos>
    0     1       2 ...         p0       p0 + (j - 1/2) r, j=1..L  p0       p0+1 p0+2 ...

where ``r`` is the language's mean number of speech frames per text token in the training set
(a constant of the model, measured once before training, not the utterance's own rate, which is
unknown at generation): frame ``t`` then lies at the position of character ``t / r``, and the
model learns only how far each speaker and emotion drifts from that mean. Positions repeat
(the speech restarts at ``p0``), which rotary attention allows; an attention mask is always
passed, so transformers does not read the repeats as packed sequences.

Written by hand because transformers has no such layout; it only changes the ``position_ids``
given to the decoder (:func:`slmlib.model.train.decoder_states`) and to ``generate``
(:func:`slmlib.model.generate.generate_speech`, whose later steps continue at +1 per token).
"""
from __future__ import annotations

from collections import defaultdict

import torch

from slmlib.model.vocab import SpeechVocab

POSITIONS = "aligned_positions"     # the config.json entry of a model with aligned positions
LAYOUTS = ("sequential", "aligned")


def frame_rates(examples: list[tuple[list[int], list[int]]], vocab: SpeechVocab) -> dict[int, float]:
    """Speech frames per text token of each language (by language id) over training examples."""
    frames: dict[int, int] = defaultdict(int)
    chars: dict[int, int] = defaultdict(int)
    text, speech = vocab.id("<text>"), vocab.id("<speech>")
    for ids, _ in examples:
        start, end = ids.index(text), ids.index(speech)
        chars[ids[1]] += end - start - 1
        frames[ids[1]] += len(ids) - end - 2            # speech tokens, without <eos>
    return {lang: frames[lang] / chars[lang] for lang in chars if chars[lang]}


def declare(model, vocab: SpeechVocab, examples: list[tuple[list[int], list[int]]]) -> None:
    """Give ``model`` aligned positions with the frame rates of ``examples``, recorded in its
    config (saved with it, so a reloaded model lays out its positions the same way)."""
    rates = frame_rates(examples, vocab)
    if not rates:
        raise ValueError("aligned positions need training examples with text")
    setattr(model.config, POSITIONS, {"text_id": vocab.id("<text>"), "speech_id": vocab.id("<speech>"),
                                      "rates": {str(k): v for k, v in sorted(rates.items())}})


def position_ids(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor | None:
    """The (B, T) position ids of ``model``'s layout for right- or left-padded sequences, or
    None for a model with plain positions (transformers then counts 0, 1, 2, ...)."""
    layout = getattr(model.config, POSITIONS, None)
    if not layout:
        return None
    ids, mask = input_ids, attention_mask.long()
    plain = (mask.cumsum(-1) - 1).clamp(min=0)
    first = mask.argmax(-1, keepdim=True)                       # left padding
    langs = ids.gather(1, (first + 1).clamp(max=ids.shape[1] - 1)).squeeze(1)
    rates = layout["rates"]
    mean = sum(rates.values()) / len(rates)
    rate = torch.tensor([rates.get(str(int(lang)), mean) for lang in langs], dtype=torch.float32,
                        device=ids.device).unsqueeze(1)
    is_text, is_speech = ids == layout["text_id"], ids == layout["speech_id"]
    if not (is_text.any(-1) & is_speech.any(-1)).all():
        raise ValueError("aligned positions need every sequence to hold <text> and <speech>")
    text_at, speech_at = is_text.int().argmax(-1, keepdim=True), is_speech.int().argmax(-1, keepdim=True)
    k = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
    p0 = plain.gather(1, text_at)
    chars = p0 + torch.round((k - text_at - 0.5) * rate).long()
    speech = p0 + (k - speech_at)
    return torch.where(k <= text_at, plain, torch.where(k < speech_at, chars, speech))
