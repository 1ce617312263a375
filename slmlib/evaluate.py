"""Judge generated speech tokens: decode with a reference timbre, then ASR, prosody, speaker
similarity and token statistics, one row per utterance (notebooks 01-04 all use this).

Everything here reads only what a listener could: the decoded audio, the intended text, the
speaker's reference clip and, where one exists, a real recording of the same text by the same
speaker (for calibrated CER, F0 correlation/RMSE after DTW and the duration ratio).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.codec.analysis import SpeakerStats
from slmlib.codec.tokenizer import SpeechCodec
from slmlib.data.manifest import SAMPLE_RATE, load_audio
from slmlib.judges.by_path import load_asr, speaker_embedder
from slmlib.metrics import error_rates, repetition_rate, token_entropy, utterance_entropies
from slmlib.parallel import map_chunks
from slmlib.prosody import aligned_f0_agreement, prosody_features, speaking_rate
from slmlib.stats import Resampler, bootstrap_ci, paired_difference_ci

# what one row must say about the utterance being judged
ITEM_COLUMNS = ("id", "lang", "text", "speaker", "reference_path", "recording_path")


def _judge_chunk(items: list[dict], codec_folder: str, asr_folders: dict[str, str],
                 timbres: dict[str, SpeakerStats], out: str, speaker_model: str = "") -> list[dict]:
    """Worker: decode, write, transcribe and measure a chunk of generated utterances."""
    import torch

    from slmlib.world.render import write_flac

    torch.set_num_threads(1)
    codec = SpeechCodec.from_pretrained(codec_folder)
    asr = {lang: load_asr(f, lang) for lang, f in asr_folders.items()}
    embed = speaker_embedder(speaker_model)
    rows, ref_embeddings = [], {}
    for it in items:
        tokens = np.asarray(it["tokens"], dtype=np.int64)
        row = {"id": it["id"], "n_tokens": len(tokens),
               "token_entropy": float(utterance_entropies([tokens])[0]) if len(tokens) else np.nan,
               "repetition": repetition_rate(tokens)}
        if len(tokens) == 0:       # the model said nothing: count it, measure nothing
            rows.append({**row, "hypothesis": "", "silent": True})
            continue
        stats = timbres[it["speaker"]]
        wav = codec.decode(tokens, stats)
        path = Path(out) / f"{it['id']}.flac"
        write_flac(path, wav)
        hyp = asr[it["lang"]].transcribe([wav])[0]
        ref = it["reference_path"]
        if ref not in ref_embeddings:
            ref_embeddings[ref] = embed(load_audio(ref))
        row.update(prosody_features(wav, reference_hz=float(np.exp(stats.log_f0_median))))
        row.update({"path": str(path), "hypothesis": hyp, "silent": False,
                    "chars_per_s": speaking_rate(it["text"], len(wav) / SAMPLE_RATE),
                    "speaker_sim": float(embed(wav) @ ref_embeddings[ref])})
        if isinstance(it["recording_path"], str) and it["recording_path"]:
            recording = load_audio(it["recording_path"])
            row.update(aligned_f0_agreement(wav, recording))
            row["duration_ratio"] = len(wav) / len(recording)
        rows.append(row)
    return rows


EMOTION_PREFIX = "emo:"      # emotion-judge features stored beside the other measures


def _listen_chunk(items: list[dict], codec_folder: str, asr_folders: dict[str, str] | None,
                  timbres: dict[str, SpeakerStats], registers: dict[str, float] | None) -> list[dict]:
    """Worker: decode each token sequence with its speaker's timbre, transcribe it (with
    ``asr_folders``) and measure its emotion features (with ``registers``)."""
    import torch

    from slmlib.judges.emotion import emotion_features

    torch.set_num_threads(1)
    codec = SpeechCodec.from_pretrained(codec_folder)
    asr = {lang: load_asr(f, lang) for lang, f in (asr_folders or {}).items()}
    rows = []
    for it in items:
        tokens = np.asarray(it["tokens"], dtype=np.int64)
        if len(tokens) == 0:
            rows.append({"hypothesis": ""})
            continue
        wav = codec.decode(tokens, timbres[it["speaker"]])
        row = {} if registers is None else \
            {EMOTION_PREFIX + k: v for k, v in emotion_features(wav, it["text"], registers[it["speaker"]]).items()}
        if asr:
            row["hypothesis"] = asr[it["lang"]].transcribe([wav])[0]
        rows.append(row)
    return rows


def transcribe_tokens(langs: list[str], speakers: list[str], tokens: list[np.ndarray],
                      codec_folder: str, asr_folders: dict[str, str],
                      timbres: dict[str, SpeakerStats], workers: int) -> list[str]:
    """What the ASR judge hears in each token sequence (decoded with the speaker's timbre):
    the cheap judge of TDSC's candidates, which need only their transcripts (no audio is
    written, no prosody or speaker measures)."""
    payload = [{"lang": lang, "speaker": s, "tokens": t} for lang, s, t in zip(langs, speakers, tokens)]
    heard = map_chunks(_listen_chunk, payload, workers, codec_folder, asr_folders, timbres, None)
    return [r["hypothesis"] for r in heard]


def listen_tokens(items: pd.DataFrame, tokens: list[np.ndarray], codec_folder: str,
                  asr_folders: dict[str, str] | None, timbres: dict[str, SpeakerStats],
                  registers: dict[str, float], workers: int) -> pd.DataFrame:
    """For each item (``lang``, ``text``, ``speaker``) and its tokens: the emotion judge's
    features of the decoded audio (columns ``emo:<feature>``) and, with ``asr_folders``, the
    transcript and CER/WER, without writing audio (many clips, none kept: SASLM's rollouts, the
    resynthesis-domain emotion judge's training clips)."""
    payload = [{"lang": r.lang, "text": r.text, "speaker": r.speaker, "tokens": t}
               for r, t in zip(items.itertuples(), tokens)]
    heard = pd.DataFrame(map_chunks(_listen_chunk, payload, workers, codec_folder, asr_folders,
                                    timbres, registers))
    if not asr_folders:
        return heard
    rates = pd.concat([error_rates(list(g.text), list(heard.hypothesis.iloc[g.index]), lang).set_axis(g.index)
                       for lang, g in items.reset_index(drop=True).groupby("lang")])
    return pd.concat([heard, rates.sort_index()], axis=1)


def judge_tokens(items: pd.DataFrame, tokens: list[np.ndarray], codec_folder: str,
                 asr_folders: dict[str, str], timbres: dict[str, SpeakerStats], out: Path,
                 workers: int, speaker_model: str = "") -> pd.DataFrame:
    """One row per item (``ITEM_COLUMNS``): the item, its WER/CER and every measure above.

    ``tokens[i]`` are the codec tokens generated for ``items.iloc[i]``; audio goes to ``out``.
    ``asr_folders`` and ``speaker_model`` name the judges (:mod:`slmlib.judges.by_path`).
    An empty generation scores WER = CER = 1 (nothing of the text was said).
    """
    missing = [c for c in ITEM_COLUMNS if c not in items.columns]
    if missing:
        raise ValueError(f"items lack columns {missing}")
    if len(tokens) != len(items):
        raise ValueError(f"{len(tokens)} token sequences for {len(items)} items")
    out.mkdir(parents=True, exist_ok=True)
    payload = [{**{c: r[c] for c in ITEM_COLUMNS}, "tokens": t}
               for r, t in zip(items.to_dict("records"), tokens)]
    measured = pd.DataFrame(map_chunks(_judge_chunk, payload, workers, codec_folder, asr_folders,
                                       timbres, str(out), speaker_model))
    table = items.reset_index(drop=True).merge(measured, on="id", how="left")
    parts = []
    for lang, g in table.groupby("lang", sort=False):
        parts.append(pd.concat([g.reset_index(drop=True),
                                error_rates(list(g.text), list(g.hypothesis), lang)], axis=1))
    table = pd.concat(parts, ignore_index=True)
    table["tokens"] = [np.asarray(t) for t in table.id.map(dict(zip(items.id, tokens)))]
    return table


def chance_cers(table: pd.DataFrame) -> pd.Series:
    """Per item (indexed like ``table``): the CER of its transcript against *another* item's
    text (each language's texts rotated by one): what a system that says something unrelated
    scores with this judge. A model is intelligible only to the extent its CER lies below this."""
    parts = []
    for lang, g in table.groupby("lang"):
        if len(g) < 2:
            continue
        refs = list(np.roll(g.text.to_numpy(), 1))
        parts.append(error_rates(refs, list(g.hypothesis.fillna("")), lang).cer.set_axis(g.index))
    return pd.concat(parts).reindex(table.index) if parts else pd.Series(np.nan, index=table.index)


def chance_cer(table: pd.DataFrame) -> float:
    """Mean of :func:`chance_cers`."""
    return float(chance_cers(table).mean()) if len(table) >= 2 else float("nan")


SUMMARY_COLUMNS = ("wer", "cer", "f0_std_st", "f0_range_st", "f0_std_hz", "f0_range_hz",
                   "energy_std_db", "f0_corr", "f0_rmse_hz", "speaker_sim", "duration_ratio",
                   "chars_per_s", "repetition")


def summarise(table: pd.DataFrame, baseline_cer: pd.Series | None = None, seed: int = 0,
              groups: str | None = None) -> dict:
    """One system's numbers with bootstrap 95 % CIs over utterances: means of the per-utterance
    measures, H_p pooled over all its tokens (P1 Eq. 3; CI by resampling utterances), corpus
    WER, the share of empty outputs and, with ``baseline_cer`` (CER of the real recordings,
    indexed by item id), the calibrated CER with a paired CI. ``groups`` names a column whose
    values are resampled whole (e.g. "id" when each text was spoken several times)."""
    labels = None if groups is None else table[groups]
    out: dict = {"utterances": len(table), "silent_share": float(table.silent.mean())}
    for col in SUMMARY_COLUMNS:
        if col in table and table[col].notna().sum() >= 2:
            est, lo, hi = bootstrap_ci(table[col], seed=seed, groups=labels)
            out.update({col: est, f"{col}_low": lo, f"{col}_high": hi})
    spoken = table[table.tokens.map(len) > 0]
    if len(spoken):
        seqs = list(spoken.tokens)
        draw = Resampler(len(seqs), None if groups is None else spoken[groups])
        rng = np.random.default_rng(seed)
        boots = [token_entropy([seqs[i] for i in draw(rng)]) for _ in range(300)]
        # the plug-in entropy falls when a resample repeats utterances, so the percentile
        # interval sits below the estimate: centre the bootstrap's spread on the estimate
        h, (lo, mid, hi) = token_entropy(seqs), np.quantile(boots, [0.025, 0.5, 0.975])
        out.update({"H_p": h, "H_p_low": float(h - (mid - lo)), "H_p_high": float(h + (hi - mid))})
    out["wer_corpus"] = float(table.word_errors.sum() / table.ref_words.sum())
    out["cer_chance"] = chance_cer(table)
    if baseline_cer is not None:
        base = baseline_cer.reindex(table.id).to_numpy()
        d, lo, hi = paired_difference_ci(table.cer.to_numpy(), base, seed=seed, groups=labels)
        out.update({"calibrated_cer": d, "calibrated_cer_low": lo, "calibrated_cer_high": hi})
    return out
