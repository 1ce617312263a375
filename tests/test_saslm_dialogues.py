"""The dialogue world of notebook 05: contexts imply the emotion, splits stay disjoint."""
import pandas as pd
import pytest

from slmlib.saslm.dialogues import EVENTS, build_dialogues, context_pools, thinker_text
from slmlib.world.config import EMOTIONS


def test_every_world_emotion_has_events_and_test_contexts_are_new_sentences():
    assert set(EMOTIONS) <= set(EVENTS)
    pools = context_pools(seed=0)
    for emotion in EVENTS:
        train, test = pools["train"][emotion], pools["test"][emotion]
        assert test and not set(train) & set(test)
        # every test event is also heard in training (with another opener)
        for c in test:
            event = c.split(", ", 1)[1]
            assert any(t.endswith(event) for t in train)
    assert context_pools(seed=0) == pools and context_pools(seed=1) != pools


def _manifest():
    rows = []
    for split, speakers in [("train", ["en-R00", "en-R01"]), ("test", ["en-H00"])]:
        for s in speakers:
            for i, emotion in enumerate(EMOTIONS):
                rows.append({"id": f"{s}-{split}-{i}", "lang": "en", "is_real": True, "split": split,
                             "text": f"text {split} {i}", "emotion": emotion, "speaker": s,
                             "path": f"/x/{s}-{i}.flac", "audio_sha": f"{s}{split}{i}"})
    rows.append({**rows[0], "id": "syn", "is_real": False})
    rows.append({**rows[0], "id": "judge", "split": "judge"})
    return pd.DataFrame(rows)


def test_dialogues_keep_the_worlds_splits_and_hide_the_label_in_the_context():
    d = build_dialogues(_manifest(), seed=0)
    assert set(d.id) == set(_manifest().id[:18])                 # real train/test only
    assert set(d[d.split == "train"].speaker).isdisjoint(d[d.split == "test"].speaker)
    pools = context_pools(seed=0)
    for r in d.itertuples():
        assert r.context in pools[r.split][r.emotion]
        assert r.emotion not in r.context.lower()
    assert build_dialogues(_manifest(), seed=0).equals(d)
    assert thinker_text("Hey, the bus leaves at nine.", "ok") == "A: Hey, the bus leaves at nine.\nB: ok"
    assert "[sad]" in thinker_text("c", "r", "sad")
    with pytest.raises(ValueError, match="no real"):
        build_dialogues(_manifest(), seed=0, lang="lo")
