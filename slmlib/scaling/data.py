"""The training sets of the scaling study: P1's filter on the synthetic pool, codec tokens of
every clip, and the nested mixtures over alpha."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.cache import StageCache
from slmlib.codec.analysis import SpeakerStats
from slmlib.codec.pipeline import FittedCodec, analyse_many
from slmlib.data.filter import FilterConfig, check_thresholds, filter_synthetic
from slmlib.judges.pipeline import ASRJudges, transcribe


FILTERS = ("judge", "labels", "none")


def filtered_pool(manifest: pd.DataFrame, lang: str, judges: ASRJudges, cache: StageCache,
                  workers: int, how: str = "judge", max_wer: float = 0.0) -> pd.DataFrame:
    """Every synthetic training clip of ``lang`` with column ``keep``: P1's filter (App. F.3)
    with the language's ASR judge and WER threshold ``max_wer`` (``judge``; 0 = P1's threshold
    for the language, :class:`FilterConfig`), the world's fault labels (``labels``: a perfect
    filter, for the smoke profile whose judges are untrained) or no filter (``none``). The
    judge's transcripts are cached; the threshold is applied after."""
    if how not in FILTERS:
        raise ValueError(f"unknown filter {how!r}; use one of {FILTERS}")
    filter_cfg = FilterConfig(max_wer={lang: max_wer}) if max_wer else FilterConfig()
    if how == "judge":
        check_thresholds(filter_cfg, [lang])
    rows = manifest[(manifest.lang == lang) & (manifest.split == "train") & ~manifest.is_real]
    if how != "judge":
        return rows.assign(keep=(rows.faults.map(len) == 0) if how == "labels" else True)

    def compute(folder: Path) -> list[str]:
        return transcribe(list(rows.path), list(rows.lang), judges, workers)

    hyps = cache.run("scaling.transcripts", {"clips": sorted(rows.audio_sha)}, compute,
                     inputs=[judges.keys[lang]]).value
    return filter_synthetic(rows, pd.Series(hyps, index=rows.index), filter_cfg)


def _encode_chunk(items: list[tuple[str, SpeakerStats]], codec_folder: str, cfg) -> list[np.ndarray]:
    from slmlib.codec.tokenizer import SpeechCodec

    codec = SpeechCodec.from_pretrained(codec_folder)
    frames = analyse_many([p for p, _ in items], cfg, 1, aperiodicity=False)
    return [codec.encode_frames(f, s) for f, (_, s) in zip(frames, items)]


def encode_clips(rows: pd.DataFrame, fitted: FittedCodec, timbres: dict[str, SpeakerStats],
                 cache: StageCache, workers: int) -> dict[str, np.ndarray]:
    """Codec tokens of every row's clip (with its speaker's timbre), by utterance id; cached
    on the codec and the clips."""
    from slmlib.parallel import map_chunks

    missing = sorted(set(rows.speaker) - set(timbres))
    if missing:
        raise KeyError(f"no timbre for speakers {missing[:5]}: pass their speaker statistics")

    def compute(folder: Path) -> dict[str, np.ndarray]:
        items = [(p, timbres[s]) for p, s in zip(rows.path, rows.speaker)]
        tokens = map_chunks(_encode_chunk, items, workers, str(fitted.folder), fitted.codec.config)
        return {i: t.astype(np.int16 if fitted.codec.config.vocab_size < 2**15 else np.int32)
                for i, t in zip(rows.id, tokens)}

    params = {"clips": sorted(rows.audio_sha), "speakers": sorted(set(rows.speaker))}
    step = cache.run("slm.tokens", params, compute, inputs=[fitted.key])
    return {i: t.astype(np.int64) for i, t in step.value.items()}


def mixtures(real_ids: list[str], pool_ids: list[str], alphas: tuple[float, ...],
             syn_at_100: float, seed: int) -> tuple[dict[float, list[str]], pd.DataFrame]:
    """Training ids per alpha and a table of the sizes (see :class:`ScalingConfig`).

    The real set is fixed (the first ``n_real`` of a seeded shuffle); synthetic clips come from
    one seeded shuffle of the pool, so every alpha's synthetic set contains the smaller ones.
    """
    if not pool_ids:
        raise ValueError("the filtered synthetic pool is empty: check the filter's scores")
    rng = np.random.default_rng(seed)
    real = [real_ids[i] for i in rng.permutation(len(real_ids))]
    pool = [pool_ids[i] for i in rng.permutation(len(pool_ids))]
    top = max([a for a in alphas if a < 1.0], default=0.0)
    n_real = len(real) if top == 0 else min(len(real), int(len(pool) * (1 - top) / top + 1e-9))
    if alphas and any(a < 1.0 for a in alphas) and n_real == 0:
        raise ValueError("no real clips for the alphas below 100 %")
    sets, rows = {}, []
    for a in sorted(alphas):
        if not 0.0 <= a <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {a}")
        if a < 1.0:
            n_syn, ids = int(round(n_real * a / (1 - a))), real[:n_real]
        else:
            n_syn, ids = min(len(pool), int(round(syn_at_100 * n_real * top / (1 - top)))
                             if top else len(pool)), []
        sets[a] = ids + pool[:n_syn]
        rows.append({"alpha": a, "n_real": len(ids), "n_synthetic": n_syn,
                     "realised_alpha": n_syn / max(len(ids) + n_syn, 1)})
    return sets, pd.DataFrame(rows)
