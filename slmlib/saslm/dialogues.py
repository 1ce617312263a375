"""The EchoMind-like dialogue world of notebook 05 (P2): a context turn whose situation implies
how the reply should sound, and the reply said by a real expressive speaker in that emotion.

Replies are the English world's real utterances: their texts are emotionally neutral template
sentences (like EchoMind's neutral scripts) and their audio is rendered in one of the world's
emotions, so no new audio is needed. A dialogue gives each reply a context turn drawn for the
reply's emotion; the emotion label is kept for evaluation and the oracle condition only, the
model sees the context's words.

A context is "<opener>, <event>.": an emotionally neutral opener and an event that implies the
emotion (good news → happy, bad news → sad, an injustice → angry, someone anxious → a calm
reply, something unexpected → surprised, a routine remark → neutral). Train and test contexts
are disjoint opener-event combinations: every event occurs in training, every test context is
new as a sentence. Replies keep the world's splits (training speakers and texts for training,
held-out speakers and test texts for testing), so train and test share no speaker and no text.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

EVENTS: dict[str, tuple[str, ...]] = {
    "happy": ("you won first prize in the city race", "your sister just had a healthy baby",
              "we got the house we wanted", "your team won the final",
              "the bank approved your loan", "you passed the exam with top marks",
              "your old friend is coming to visit", "the concert tickets arrived today"),
    "sad": ("your grandfather passed away last night", "the old dog did not make it",
            "our shop has to close for good", "your best friend is moving far away",
            "the doctor called with bad news", "we lost the match in the last minute",
            "the letter says you did not get the job", "nobody came to the party"),
    "angry": ("they cancelled your order again without asking", "someone scratched your car and drove off",
              "the landlord kept the whole deposit", "the neighbour blocked the driveway again",
              "the company charged you twice", "he took credit for your work",
              "they lied to us about the price", "the repair man never showed up again"),
    "calm": ("I am so nervous about tomorrow", "I think I made a terrible mistake",
             "my heart is racing and I cannot sleep", "everything is going wrong at once",
             "I am scared I will fail", "the baby will not stop crying",
             "I cannot find my keys anywhere", "I feel lost and tired"),
    "surprised": ("the mayor is at the door for you", "it is snowing in the middle of summer",
                  "your brother is getting married next week", "the old tree in the park fell down",
                  "the shop gave everyone free bread today", "a famous singer moved in next door",
                  "the river turned green overnight", "your cousin is back from abroad"),
    "neutral": ("the meeting moved to room four", "the bus leaves at nine",
                "the report is on your desk", "we need milk and eggs",
                "the train is on time", "the form is due on friday",
                "the printer is on the second floor", "lunch is at noon"),
}
OPENERS = ("listen", "guess what", "so", "you know", "hey", "well", "by the way", "look")


def context_pools(seed: int, test_share: float = 0.25) -> dict[str, dict[str, list[str]]]:
    """``{"train"|"test": {emotion: [context, ...]}}``: per emotion, a seeded ``test_share`` of
    the opener-event combinations is held out, at most one opener per event, so every event
    keeps training contexts."""
    rng = np.random.default_rng(seed)
    pools: dict[str, dict[str, list[str]]] = {"train": {}, "test": {}}
    for emotion, events in EVENTS.items():
        n_test = int(round(test_share * len(events)))
        held = set(rng.choice(len(events), size=n_test, replace=False).tolist())
        train, test = [], []
        for i, event in enumerate(events):
            openers = list(rng.permutation(OPENERS))
            if i in held:
                test.append(context(openers[0], event))
                openers = openers[1:]
            train += [context(o, event) for o in openers]
        pools["train"][emotion], pools["test"][emotion] = train, test
    return pools


def context(opener: str, event: str) -> str:
    return f"{opener[0].upper()}{opener[1:]}, {event}."


def build_dialogues(manifest: pd.DataFrame, seed: int, lang: str = "en",
                    emotions: tuple[str, ...] | None = None) -> pd.DataFrame:
    """One dialogue per real utterance of ``lang`` in the train and test splits: id, split,
    context, reply (the utterance's text), emotion (hidden from the model), speaker, path,
    audio_sha. Contexts come from :func:`context_pools` for the utterance's split and emotion."""
    real = manifest[(manifest.lang == lang) & manifest.is_real & manifest.split.isin(["train", "test"])]
    if real.empty:
        raise ValueError(f"no real {lang!r} speech in the train and test splits: the dialogue world "
                         "needs expressive real replies (world.real_languages)")
    unknown = sorted(set(real.emotion) - set(EVENTS))
    if unknown:
        raise ValueError(f"no contexts for emotions {unknown}; add events to slmlib.saslm.dialogues.EVENTS")
    if emotions is not None:
        real = real[real.emotion.isin(emotions)]
    pools = context_pools(seed)
    rng = np.random.default_rng(seed + 1)
    contexts = [pools[r.split][r.emotion][rng.integers(len(pools[r.split][r.emotion]))]
                for r in real.itertuples()]
    return pd.DataFrame({"id": real.id.to_numpy(), "split": real.split.to_numpy(), "context": contexts,
                         "reply": real.text.to_numpy(), "emotion": real.emotion.to_numpy(),
                         "speaker": real.speaker.to_numpy(), "path": real.path.to_numpy(),
                         "audio_sha": real.audio_sha.to_numpy()})


def thinker_text(context_turn: str, reply: str, emotion: str | None = None) -> str:
    """The dialogue as the thinker reads it; the oracle condition adds the true emotion label."""
    label = f"[{emotion}] " if emotion else ""
    return f"A: {context_turn}\nB: {label}{reply}"
