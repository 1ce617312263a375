"""Integration: a tiny world built twice from scratch gives identical audio."""
import pytest

from slmlib.cache import StageCache
from slmlib.world.build import build_world, make_specs, pool_sizes
from slmlib.world.config import WorldConfig

TINY = WorldConfig(languages=("en", "lo"), real_languages=("en",), n_real_speakers=2,
                   n_heldout_speakers=1, utts_per_real_speaker=3, synthetic_to_real_other=1.0,
                   utts_synthetic_only=4, n_dev_texts=2, n_test_texts=2, n_judge_texts=2,
                   vocab_per_class=30)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory, espeak):
    root = tmp_path_factory.mktemp("worlds")
    a = build_world(TINY, 7, StageCache(root / "a"), workers=2, progress=False)
    b = build_world(TINY, 7, StageCache(root / "b"), workers=1, progress=False)
    c = build_world(TINY, 8, StageCache(root / "a"), workers=2, progress=False)
    return a, b, c


def test_same_seed_same_audio_whatever_the_workers(worlds):
    a, b, _ = worlds
    assert a.manifest.id.tolist() == b.manifest.id.tolist()
    assert a.manifest.audio_sha.tolist() == b.manifest.audio_sha.tolist()


def test_another_seed_changes_texts_and_audio(worlds):
    a, _, c = worlds
    assert set(a.manifest.text) != set(c.manifest.text)
    assert not set(a.manifest.audio_sha) & set(c.manifest.audio_sha)


def test_world_structure(worlds):
    m = worlds[0].manifest
    en, lo = m[m.lang == "en"], m[m.lang == "lo"]
    assert en[en.split == "train"].is_real.sum() == pool_sizes("en", TINY)["real_train"]
    assert not lo[lo.split == "train"].is_real.any()            # Lao: no real training speech
    assert lo[lo.split == "test"].is_real.any()                 # ... but real test speakers
    test_speakers = set(m[(m.split == "test") & m.is_real].speaker)
    train_speakers = set(m[(m.split == "train") & m.is_real].speaker)
    assert not test_speakers & train_speakers
    texts = {s: set(m[m.split == s].text) for s in ("train", "dev", "test", "judge")}
    assert all(not texts[x] & texts[y] for x in texts for y in texts if x < y)
    assert m.words_missing.sum() == 0
    assert (m.duration > 0.3).all()



@pytest.mark.parametrize("lang", ["en", "lo"])
def test_every_real_speaker_says_every_emotion_in_every_split(lang):
    cfg = WorldConfig()
    texts = {pool: [(f"w{i}",) * 4 for i in range(n)] for pool, n in pool_sizes(lang, cfg).items()}
    specs = make_specs(lang, cfg, 0, texts, {f"w{i}": f"w{i}" for i in range(20000)})
    emotions: dict[tuple[str, str], set[str]] = {}
    for spec in specs:
        if spec.voice.is_real:
            emotions.setdefault((spec.split, spec.voice.name), set()).add(spec.emotion)
    assert emotions and all(len(e) == len(cfg.emotions) for e in emotions.values()), emotions
