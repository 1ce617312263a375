"""Train, cache and calibrate the world's judges (notebook 00, part 3).

* ASR: one CTC recogniser per language, trained on the ``train`` and ``judge`` splits (fault-free
  clips: their transcripts are what was said) plus codec resyntheses of training clips. The
  languages train in parallel processes, one torch thread each (a small recurrent model uses
  one core better than two: the GRU judge took 1.1 s/step on one core vs 0.83 s on two).
* Emotion: one classifier for all languages on real training-speaker clips.
* Evaluation on the ``test`` split: held-out real speakers and clean synthetic renderings of
  texts no judge has seen, original audio and codec resynthesis side by side.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.cache import StageCache
from slmlib.codec.analysis import SpeakerStats
from slmlib.codec.config import CodecConfig
from slmlib.codec.pipeline import FittedCodec
from slmlib.codec.tokenizer import SpeechCodec
from slmlib.data.manifest import load_audio
from slmlib.judges.asr import ASR, ASRConfig, choose_stride, train_asr
from slmlib.judges.by_path import folder_key, load_asr
from slmlib.judges.config import JudgesConfig
from slmlib.judges.emotion import EmotionJudge, emotion_features
from slmlib.metrics import error_rates
from slmlib.parallel import map_chunks, process_pool
from slmlib.stats import ci_text
from slmlib.text.normalize import normalise
from slmlib.world.render import FAULTS

ASR_VERSION = 1      # bump when the recogniser or its training changes what a stage produces


def _fault_free(manifest: pd.DataFrame) -> pd.Series:
    return ~manifest[[f"fault_{f}" for f in FAULTS]].any(axis=1)


def asr_training_rows(manifest: pd.DataFrame, lang: str, cfg: JudgesConfig, seed: int
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(original clips, clips to resynthesise) for one language's recogniser: real clips
    first (they are scarcer), then synthetic ones, ``cfg.asr_clips`` in all."""
    pool = manifest[(manifest.lang == lang) & manifest.split.isin(["train", "judge"])
                    & _fault_free(manifest)].sample(frac=1.0, random_state=seed)
    rows = pd.concat([pool[pool.is_real], pool[~pool.is_real]]).head(cfg.asr_clips)
    resynth = rows.sample(min(cfg.asr_resynth, len(rows)), random_state=seed + 1)
    return rows, resynth


def _train_one(job: dict) -> dict:
    """Worker: one language's cached ASR stage (runs in its own process)."""
    import torch

    torch.set_num_threads(1)
    cache = StageCache(job["cache_root"], job["cache_version"])
    rows, resynth = job["rows"], job["resynth"]

    def compute(folder: Path) -> dict:
        t0 = time.process_time()        # CPU time: the judges may share cores (below)
        wavs = [load_audio(p) for p in rows.path]
        texts = list(rows.spoken_text)
        codec = SpeechCodec.from_pretrained(job["codec_folder"])
        timbres: dict[str, SpeakerStats] = job["timbres"]
        for r in resynth.itertuples():
            stats = timbres.get(r.speaker) or codec.timbre([load_audio(r.path)])
            wavs.append(codec.decode(codec.encode(load_audio(r.path), stats), stats))
            texts.append(r.spoken_text)
        data_seconds = time.process_time() - t0
        asr = train_asr(wavs, texts, job["asr_cfg"])
        asr.save_pretrained(folder / "asr")
        return {"lang": job["lang"], "stride": job["asr_cfg"].stride, "clips": len(rows),
                "resynthesised": len(resynth), "data_seconds": data_seconds,
                "train_seconds": time.process_time() - t0 - data_seconds,
                "final_loss": float(np.mean([e["loss"] for e in asr.log[-20:]]))}

    # the clips and the recogniser's config say everything: emotion settings must not retrain it
    asr = dataclasses.asdict(job["asr_cfg"])
    if asr["encoder"] == "gru":
        del asr["encoder"]        # GRU judges keep the keys they had before the option existed
    params = {"version": ASR_VERSION, "lang": job["lang"], "asr": asr,
              "clips": sorted(rows.audio_sha), "resynth": sorted(resynth.audio_sha)}
    step = cache.run("judges.asr", params, compute, inputs=[job["codec_key"]])
    return {**step.value, "folder": str(step.path / "asr"), "key": step.key, "reused": step.reused}


@dataclasses.dataclass
class ASRJudges:
    models: dict[str, ASR]        # per language (a PipelineASR when given by path)
    folders: dict[str, str]       # their save_pretrained folders (for worker processes)
    keys: dict[str, str]          # their cache keys (stages that use a judge depend on it)
    table: pd.DataFrame           # how each was trained: clips, stride, seconds, final loss
    speaker_model: str = ""       # the SIM model every stage judges with ("" = resemblyzer)

    def judge_keys(self, lang: str) -> list[str]:
        """Cache inputs of a stage judged in ``lang``: the recogniser and any SIM model."""
        return [self.keys[lang]] + ([folder_key(self.speaker_model)] if self.speaker_model else [])


def pretrained_asr_judges(folder: str, langs: list[str], speaker_model: str = "") -> ASRJudges:
    """A transformers ASR model on disk (e.g. Whisper, as P1 judges Thai) as every language's
    judge, in place of the world's recognisers; nothing is trained."""
    key = folder_key(folder)
    return ASRJudges(models={lang: load_asr(folder, lang) for lang in langs},
                     folders={lang: folder for lang in langs}, keys={lang: key for lang in langs},
                     table=pd.DataFrame({"lang": langs, "model": folder, "stride": "pretrained",
                                         "clips": 0, "resynthesised": 0, "data_seconds": 0.0,
                                         "train_seconds": 0.0, "final_loss": np.nan}),
                     speaker_model=speaker_model)


def train_asr_judges(manifest: pd.DataFrame, fitted: FittedCodec, cfg: JudgesConfig,
                     cache: StageCache, seed: int, workers: int) -> ASRJudges:
    """One recogniser per language, trained in parallel and cached (or, with
    ``cfg.asr_model``, that model for every language)."""
    if cfg.asr_model:
        return pretrained_asr_judges(cfg.asr_model, sorted(manifest.lang.unique()), cfg.speaker_model)
    jobs = []
    for lang in sorted(manifest.lang.unique()):
        rows, resynth = asr_training_rows(manifest, lang, cfg, seed)
        cps = rows.spoken_text.map(lambda t: len(normalise(t))) / rows.duration
        stride = cfg.asr_stride or choose_stride(cps.to_numpy())
        jobs.append({"lang": lang, "rows": rows, "resynth": resynth,
                     "asr_cfg": ASRConfig(stride=stride, steps=cfg.asr_steps, seed=seed,
                                          lm_order=cfg.asr_lm_order, encoder=cfg.asr_encoder),
                     "codec_folder": str(fitted.folder), "codec_key": fitted.key,
                     "timbres": fitted.timbres, "cache_root": str(cache.root),
                     "cache_version": cache.version})
    jobs.sort(key=lambda j: -j["rows"].duration.sum() / j["asr_cfg"].stride)   # longest first
    # with two or more workers, one process per language (up to twice the workers, for memory)
    # even on fewer cores: the OS shares the cores among the single-thread trainings, so no judge
    # is left to finish alone on one core while the others idle (three judges on two cores: 7.0
    # min wall in a pool of three; their CPU times, 4.8, 3.9 and 3.8 min, take 7.7 in one of two)
    with process_pool(min(len(jobs), 2 * workers) if workers > 1 else 1) as pool:
        results = sorted(pool.map(_train_one, jobs), key=lambda r: r["lang"])
    return ASRJudges(models={r["lang"]: ASR.from_pretrained(r["folder"]) for r in results},
                     folders={r["lang"]: r["folder"] for r in results},
                     keys={r["lang"]: r["key"] for r in results},
                     table=pd.DataFrame(results).drop(columns=["folder", "key"]),
                     speaker_model=cfg.speaker_model)


def _transcribe_paths(paths: list[str], folder: str, lang: str) -> list[str]:
    import torch

    torch.set_num_threads(1)
    return load_asr(folder, lang).transcribe([load_audio(p) for p in paths])


def score_transcripts(rows: pd.DataFrame, hypotheses: list[str]) -> pd.DataFrame:
    """``rows`` (with ``id``, ``lang``, ``text``) joined with per-utterance WER/CER."""
    parts = []
    for lang, g in rows.assign(hypothesis=hypotheses).groupby("lang", sort=False):
        scores = error_rates(list(g.text), list(g.hypothesis), lang)
        parts.append(pd.concat([g.reset_index(drop=True), scores], axis=1))
    return pd.concat(parts, ignore_index=True)


def score_conditions(rows: pd.DataFrame, conditions: dict[str, list[str]], judges: ASRJudges,
                     workers: int) -> pd.DataFrame:
    """Each condition's clips (paths in ``rows`` order: the same utterances recorded or
    processed differently) transcribed by their language's judge and scored against
    ``rows.text``; one row per clip and condition."""
    keep = rows[["id", "lang", "speaker", "text"]]
    return pd.concat([score_transcripts(keep, transcribe(paths, list(rows.lang), judges, workers))
                      .assign(condition=name) for name, paths in conditions.items()], ignore_index=True)


def _resynthesise_chunk(items: list[tuple[str, str, SpeakerStats]], codec_folder: str) -> list[str]:
    from slmlib.world.render import write_flac

    codec = SpeechCodec.from_pretrained(codec_folder)
    for source, target, stats in items:
        write_flac(Path(target), codec.decode(codec.encode(load_audio(source), stats), stats))
    return [target for _, target, _ in items]


def resynthesise(rows: pd.DataFrame, fitted: FittedCodec, timbres: dict[str, SpeakerStats],
                 folder: Path, workers: int) -> list[str]:
    """Codec round trip of each row's clip with its speaker's timbre, written as FLAC into
    ``folder`` on ``workers`` processes; returns the new paths in row order."""
    folder.mkdir(parents=True, exist_ok=True)
    items = [(r.path, str(folder / f"{r.id}.flac"), timbres[r.speaker]) for r in rows.itertuples()]
    return map_chunks(_resynthesise_chunk, items, workers, str(fitted.folder))


def transcribe(paths: list[str], langs: list[str], judges: ASRJudges, workers: int) -> list[str]:
    """Each clip transcribed by its language's judge, on ``workers`` processes, in order."""
    hyps = [""] * len(paths)
    for lang in sorted(set(langs)):
        idx = [i for i, x in enumerate(langs) if x == lang]
        got = map_chunks(_transcribe_paths, [paths[i] for i in idx], workers, judges.folders[lang],
                         lang)
        for i, h in zip(idx, got):
            hyps[i] = h
    return hyps


def asr_test_scores(manifest: pd.DataFrame, judges: ASRJudges, fitted: FittedCodec,
                    heldout: dict[str, SpeakerStats], cache: StageCache, workers: int,
                    per_group: int | None = None) -> pd.DataFrame:
    """Test clips (all, or ``per_group`` per language and kind) transcribed by their language's
    judge as recorded and after a codec round trip (held-out speakers decoded with their own
    timbre); one row per clip and condition with WER/CER. Cached on the judges and codec."""
    test = manifest[manifest.split == "test"]
    if per_group:
        test = test.groupby(["lang", "is_real"]).head(per_group)
    timbres = {**fitted.timbres, **heldout}
    params = {"version": 2, "clips": sorted(test.audio_sha), "heldout_timbres": sorted(heldout)}

    def compute(folder: Path) -> pd.DataFrame:
        resynth = resynthesise(test, fitted, timbres, folder / "resynthesis", workers)
        out = []
        for condition, paths in (("original", list(test.path)), ("resynthesis", resynth)):
            hyps = transcribe(paths, list(test.lang), judges, workers)
            # resyntheses are stored relative to the stage folder (a temporary name until the
            # cache renames it into place) and resolved below
            stored = paths if condition == "original" else [str(Path(p).relative_to(folder)) for p in paths]
            rows = test[["id", "lang", "speaker", "is_real", "text"]].assign(path=stored)
            out.append(score_transcripts(rows, hyps).assign(condition=condition))
        return pd.concat(out, ignore_index=True)

    inputs = [fitted.key, *judges.keys.values()]
    step = cache.run("judges.asr_test", params, compute, inputs=inputs)
    scores = step.value.copy()
    resynthesised = scores.condition == "resynthesis"
    scores.loc[resynthesised, "path"] = [str(step.path / p) for p in scores.path[resynthesised]]
    return scores


def summarise_asr(scores: pd.DataFrame) -> pd.DataFrame:
    """Per language, kind (real/synthetic) and condition: mean and corpus WER, CER with a
    bootstrap 95 % CI, and the calibrated CER of resynthesis (minus the original's CER on the
    same clips, with a paired CI)."""
    from slmlib.metrics import summarise_errors
    from slmlib.stats import bootstrap_ci, paired_difference_ci

    rows = []
    for (lang, real), g in scores.groupby(["lang", "is_real"]):
        by = {c: x.set_index("id") for c, x in g.groupby("condition")}
        for condition, x in by.items():
            est, lo, hi = bootstrap_ci(x.cer)
            row = {"lang": lang, "kind": "real" if real else "synthetic", "condition": condition,
                   **summarise_errors(x), "cer_low": lo, "cer_high": hi}
            if condition != "original" and "original" in by:
                base = by["original"].loc[x.index]
                d, dlo, dhi = paired_difference_ci(x.cer.to_numpy(), base.cer.to_numpy())
                row.update({"calibrated_cer": d, "calibrated_low": dlo, "calibrated_high": dhi})
            rows.append(row)
    return pd.DataFrame(rows).round(4)


def asr_dev_scores(manifest: pd.DataFrame, judges: ASRJudges, cache: StageCache, workers: int
                   ) -> pd.DataFrame:
    """Real ``dev`` clips (training speakers saying texts no judge has heard) transcribed by
    their language's judge; one row per clip with WER/CER. Cached on the judges."""
    dev = manifest[(manifest.split == "dev") & manifest.is_real]

    def compute(folder: Path) -> pd.DataFrame:
        return score_conditions(dev, {"original": list(dev.path)}, judges, workers)

    return cache.run("judges.asr_dev", {"clips": sorted(dev.audio_sha)}, compute,
                     inputs=list(judges.keys.values())).value


def speaker_gap(dev_scores: pd.DataFrame, test_scores: pd.DataFrame) -> pd.DataFrame:
    """Per language with real ``dev`` speech: CER of training speakers on new texts, of
    held-out speakers on new texts (original recordings), and their ratio with a bootstrap
    95 % CI. A ratio near 1 says the judge's errors come from the texts or the speaking
    style, not from voices it has not heard; a large one says it does not generalise across
    speakers."""
    from slmlib.stats import bootstrap_ci, ratio_ci

    test = test_scores[test_scores.is_real & (test_scores.condition == "original")]
    rows = []
    for lang, dev in dev_scores.groupby("lang"):
        held = test[test.lang == lang].cer
        if held.empty:
            continue
        d, t = bootstrap_ci(dev.cer), bootstrap_ci(held)
        r = ratio_ci(held, dev.cer)
        rows.append({"lang": lang, "training speakers": d[0], "training low": d[1], "training high": d[2],
                     "held-out speakers": t[0], "held-out low": t[1], "held-out high": t[2],
                     "ratio": r[0], "ratio low": r[1], "ratio high": r[2]})
    return pd.DataFrame(rows).round(4)


def speaker_registers(manifest: pd.DataFrame, timbres: dict[str, SpeakerStats], codec: SpeechCodec,
                      refs: int = 10) -> dict[str, float]:
    """Typical F0 (Hz) of every real speaker: from its timbre when the codec has one, else
    from its first ``refs`` clips (the judge-only speakers of a language without real data)."""
    out = {s: float(np.exp(t.log_f0_median)) for s, t in timbres.items()}
    for spk, g in manifest[manifest.is_real & ~manifest.speaker.isin(list(out))].groupby("speaker"):
        out[spk] = float(np.exp(codec.timbre([load_audio(p) for p in g.path[:refs]]).log_f0_median))
    return out


def _emotion_rows(items: list[tuple[str, str, float]]) -> list[dict]:
    return [emotion_features(load_audio(path), text, hz) for path, text, hz in items]


def emotion_feature_table(rows: pd.DataFrame, registers: dict[str, float], workers: int) -> pd.DataFrame:
    """Emotion features of each row's clip (``path``, ``text``, ``speaker``), in order."""
    items = [(p, t, registers[s]) for p, t, s in zip(rows.path, rows.text, rows.speaker)]
    return pd.DataFrame(map_chunks(_emotion_rows, items, workers))


def train_emotion_judge(manifest: pd.DataFrame, registers: dict[str, float], cfg: JudgesConfig,
                        cache: StageCache, seed: int, workers: int) -> tuple[EmotionJudge, str]:
    """The emotion classifier, trained on real clips of training (and judge-only) speakers
    from the ``train`` and ``judge`` splits; returns it and its cache key."""
    pool = manifest[manifest.is_real & manifest.split.isin(["train", "judge"])]
    rows = pool.sample(frac=1.0, random_state=seed).groupby("lang").head(cfg.emotion_clips)
    params = {"clips": sorted(rows.audio_sha), "max_iter": cfg.emotion_max_iter, "seed": seed,
              "registers": {s: round(registers[s], 3) for s in sorted(set(rows.speaker))}}

    def compute(folder: Path) -> dict:
        features = emotion_feature_table(rows, registers, workers)
        judge = EmotionJudge.fit(features, list(rows.emotion), cfg.emotion_max_iter, seed)
        judge.save_pretrained(folder / "emotion")
        train_acc = float(np.mean(judge.predict(features) == rows.emotion.to_numpy()))
        return {"clips": len(rows), "train_accuracy": train_acc}

    step = cache.run("judges.emotion", params, compute)
    return EmotionJudge.from_pretrained(step.path / "emotion"), step.key


def emotion_test_scores(manifest: pd.DataFrame, judge: EmotionJudge, judge_key: str,
                        registers: dict[str, float], cache: StageCache, workers: int) -> pd.DataFrame:
    """Predicted vs intended emotion for every real test clip (held-out speakers)."""
    test = manifest[(manifest.split == "test") & manifest.is_real]

    def compute(folder: Path) -> pd.DataFrame:
        features = emotion_feature_table(test, registers, workers)
        return test[["id", "lang", "speaker", "emotion"]].assign(
            predicted=judge.predict(features)).reset_index(drop=True)

    params = {"clips": sorted(test.audio_sha),
              "registers": {s: round(registers[s], 3) for s in sorted(set(test.speaker))}}
    return cache.run("judges.emotion_test", params, compute, inputs=[judge_key]).value


def cer_by(scores: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean CER of real test speech per language and ``column`` value (e.g. speaker, emotion),
    as recorded and after the codec round trip: where a judge's or the codec's errors live."""
    real = scores[scores.is_real]
    return (real.groupby(["lang", column, "condition"]).cer.mean().unstack("condition")
            .round(3).reset_index())


def findings(asr_summary: pd.DataFrame, asr_table: pd.DataFrame, emotion: pd.DataFrame,
             filter_quality: pd.DataFrame, gap: pd.DataFrame | None = None) -> str:
    """Closing lines about the judges, from this run's numbers, with the issue's bars."""
    from slmlib.stats import bootstrap_ci

    lines = []
    orig = asr_summary[asr_summary.condition == "original"].set_index(["lang", "kind"])
    res = asr_summary[asr_summary.condition == "resynthesis"].set_index(["lang", "kind"])
    for (lang, kind), r in orig.iterrows():
        verdict = "meets" if r.cer_corpus <= 0.10 else "misses"
        line = (f"- ASR {lang}, {kind} test speech: CER {r.cer_mean:.3f} [{r.cer_low:.3f}, "
                f"{r.cer_high:.3f}], WER {r.wer_mean:.3f} (corpus {r.wer_corpus:.3f})")
        if kind == "real":
            line += f"; {verdict} the 0.10 CER bar for held-out real speakers"
        if (lang, kind) in res.index:
            q = res.loc[(lang, kind)]
            line += (f"; after the codec round trip CER {q.cer_mean:.3f}, calibrated "
                     f"{ci_text(q.calibrated_cer, q.calibrated_low, q.calibrated_high, '+.3f')}")
        lines.append(line + ".")
    for r in ([] if gap is None else gap.to_dict("records")):
        lines.append(f"- ASR {r['lang']}: training speakers on new texts CER {r['training speakers']:.3f}, "
                     f"held-out speakers {r['held-out speakers']:.3f}: {r['ratio']:.2f}x "
                     f"[{r['ratio low']:.2f}, {r['ratio high']:.2f}] the errors on voices it has not heard.")
    if "model" in asr_table:
        lines.append(f"- The recogniser is the pretrained model {asr_table.model.iloc[0]} (not trained here).")
    else:
        secs = asr_table.train_seconds.sum() + asr_table.data_seconds.sum()
        lines.append(f"- The {len(asr_table)} recognisers took {secs / 60:.1f} CPU-minutes in all "
                     f"(strides {dict(zip(asr_table.lang, asr_table.stride))}).")
    hit = (emotion.emotion == emotion.predicted).to_numpy()
    acc, lo, hi = bootstrap_ci(hit)
    lines.append(f"- Emotion judge on {len(emotion)} clips of held-out real speakers: accuracy "
                 f"{acc:.3f} [{lo:.3f}, {hi:.3f}] over {emotion.emotion.nunique()} emotions "
                 f"(bar 0.80; chance {1 / emotion.emotion.nunique():.3f}).")
    q = filter_quality.set_index("what")["rate"]
    lines.append(f"- P1's filter with this ASR on dev synthetic clips: recall of faulty clips "
                 f"{q['any fault']:.2f}, precision {q['precision (rejected that had a fault)']:.2f}, "
                 f"clean clips kept {q['clean clips kept']:.2f}.")
    return "\n".join(lines)


def codec_variant_cer(manifest: pd.DataFrame, base: CodecConfig, variants: dict[str, dict],
                      judges: ASRJudges, cache: StageCache, workers: int, per_speaker: int = 25,
                      langs: tuple[str, ...] = ("th", "en")) -> pd.DataFrame:
    """CER of held-out real speech after a round trip through codec variants (overrides of
    ``base``, e.g. ``{"50/s": {"tokens_per_second": 50}}``), each fitted (cached) on the same
    data and read by the same judges; the original recordings are the first row group."""
    from slmlib.codec.pipeline import fit_codec, heldout_timbres
    from slmlib.stats import bootstrap_ci

    if not variants:
        raise ValueError("give at least one codec variant, e.g. {'50/s': {'tokens_per_second': 50}}")
    fitted = {name: fit_codec(manifest, dataclasses.replace(base, **ov), cache, workers)
              for name, ov in variants.items()}
    _, rows = heldout_timbres(manifest, next(iter(fitted.values())).codec)
    rows = rows[rows.lang.isin(list(langs))].groupby("speaker").head(per_speaker)
    out = []
    conditions = {"original": list(rows.path)}
    for name, f in fitted.items():
        held, _ = heldout_timbres(manifest, f.codec)

        def compute(folder: Path, f: FittedCodec = f, held: dict = held) -> int:
            return len(resynthesise(rows, f, held, folder, workers))

        step = cache.run("judges.codec_variant", {"clips": sorted(rows.audio_sha)}, compute,
                         inputs=[f.key])
        conditions[name] = [str(step.path / f"{i}.flac") for i in rows.id]
    for name, scored in score_conditions(rows, conditions, judges, workers).groupby("condition", sort=False):
        for lang, g in scored.groupby("lang"):
            est, lo, hi = bootstrap_ci(g.cer)
            out.append({"condition": name, "lang": lang, "cer": est, "cer_low": lo, "cer_high": hi,
                        "clips": len(g)})
    return pd.DataFrame(out).round(4)
