"""Where the codec loses intelligibility: one clip resynthesised with the codec's stages added
one at a time (issue #5's "what limits it").

Every rung goes through the codec's own decoder (:meth:`SpeechCodec.decode_steps`: envelopes
interpolated between step centres, F0 smoothed inside voiced runs), so the rungs differ only in
what they feed it:

1. ``10 ms steps``: every WORLD frame as analysed (40 mel-cepstra, F0, aperiodicity); what
   the vocoder and the 40-d envelope cost on their own;
2. ``20 ms steps``: frames averaged in pairs (the 50 tokens/s step), nothing quantised;
3. ``40 ms steps``: frames averaged in fours (the 25 tokens/s step), nothing quantised;
4. ``+ pitch codes``: the 40 ms steps with F0 replaced by its pitch code's centre;
5. ``+ content codes``: the 40 ms steps with the envelope (and aperiodicity) replaced by the
   content code's centroid (and its aperiodicity table entry), F0 unquantised;
6. ``codec``: both codes: exactly ``decode(encode(clip))``;
7. ``codec, clip's own timbre``: the codec with the timbre taken from the clip itself instead
   of the speaker's reference clips (how much the held-out timbre estimate costs).

Read against the original recording by the same ASR judge, the differences between rungs say
which stage costs the most; the judge was trained on codec resyntheses too, so rungs 1-5 are
speech of a kind it has heard less of (a bias against them, if anything).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from slmlib.cache import StageCache
from slmlib.codec.analysis import SpeakerStats, analyse, speaker_stats
from slmlib.codec.config import CodecConfig
from slmlib.codec.pipeline import FittedCodec
from slmlib.codec.tokenizer import SpeechCodec
from slmlib.data.manifest import load_audio
from slmlib.judges.pipeline import ASRJudges, score_conditions
from slmlib.parallel import map_chunks
from slmlib.stats import bootstrap_ci, ci_text, paired_difference_ci


def step_sizes(cfg: CodecConfig) -> list[int]:
    """Frames per step of the unquantised rungs: single frames, half a token, a token."""
    n = cfg.frames_per_token
    return sorted({1, max(1, n // 2), n})


def step_name(frames_per_step: int, frame_ms: float) -> str:
    return f"{frames_per_step * frame_ms:g} ms steps"


def stages(cfg: CodecConfig) -> list[tuple[str, str, str]]:
    """What each stage of the codec costs, as (stage, the rung with it, the rung without it)."""
    fine, token = step_name(1, cfg.frame_ms), step_name(cfg.frames_per_token, cfg.frame_ms)
    out = [("WORLD vocoder, 40-d envelope", fine, "original")]
    for step in step_sizes(cfg)[1:]:
        out.append((f"averaging frames to {step * cfg.frame_ms:g} ms", step_name(step, cfg.frame_ms), fine))
    return out + [("pitch codes", "+ pitch codes", token), ("content codes", "+ content codes", token),
                  ("both codes", "codec", token),
                  ("timbre from reference clips", "codec", "codec, clip's own timbre")]


def ladder(codec: SpeechCodec, wav: np.ndarray, stats: SpeakerStats) -> dict[str, np.ndarray]:
    """The clip resynthesised at every rung (module docstring), decoded with ``stats``."""
    cfg = codec.config
    frames = analyse(wav, cfg.n_cepstra, cfg.frame_ms, aperiodicity=True)
    n = cfg.frames_per_token
    out, pooled = {}, {}
    for step in step_sizes(cfg):
        pooled[step] = (*codec.pool(frames, stats, cfg, frames_per_step=step),
                        codec.pool_aperiodicity(frames, step))
        out[step_name(step, cfg.frame_ms)] = codec.decode_steps(*pooled[step], stats, frames_per_step=step)
    cep, voiced, st, ap = pooled[n]
    pitch_st = codec.pitch_centres[codec.pitch_codes(voiced, st)]
    content = codec.content_codes(cep)
    out["+ pitch codes"] = codec.decode_steps(cep, voiced, pitch_st, ap, stats)
    out["+ content codes"] = codec.decode_steps(codec.centroids[content], voiced, st,
                                                codec.ap_table[content, voiced.astype(int)], stats)
    out["codec"] = codec.decode(codec.encode_frames(frames, stats), stats)
    own = speaker_stats([frames])
    out["codec, clip's own timbre"] = codec.decode(codec.encode_frames(frames, own), own)
    return out


def _ladder_chunk(items: list[tuple[str, str, SpeakerStats]], codec_folder: str) -> list[list[str]]:
    from slmlib.world.render import write_flac

    codec = SpeechCodec.from_pretrained(codec_folder)
    names = []
    for source, folder, stats in items:
        rungs = ladder(codec, load_audio(source), stats)
        Path(folder).mkdir(parents=True, exist_ok=True)
        for i, y in enumerate(rungs.values()):
            write_flac(Path(folder) / f"{i}.flac", y)
        names.append(list(rungs))
    return names


def ceiling_scores(rows: pd.DataFrame, fitted: FittedCodec, timbres: dict[str, SpeakerStats],
                   judges: ASRJudges, cache: StageCache, workers: int) -> pd.DataFrame:
    """Every clip of ``rows`` (real clips of held-out speakers, with their ``timbres``) as
    recorded and at every rung, transcribed by its language's judge: one row per clip and
    rung with WER/CER. Cached on the clips, the codec and the judges."""
    params = {"version": 1, "clips": sorted(rows.audio_sha),
              "timbres": {s: timbres[s].to_dict() for s in sorted(set(rows.speaker))}}

    def compute(folder: Path) -> pd.DataFrame:
        items = [(r.path, str(folder / r.id), timbres[r.speaker]) for r in rows.itertuples()]
        names = map_chunks(_ladder_chunk, items, workers, str(fitted.folder))[0]
        conditions = {"original": list(rows.path)}
        for i, name in enumerate(names):
            conditions[name] = [str(folder / r.id / f"{i}.flac") for r in rows.itertuples()]
        return score_conditions(rows, conditions, judges, workers)

    return cache.run("codec.ceiling", params, compute, inputs=[fitted.key, *judges.keys.values()]).value


def summarise_ceiling(scores: pd.DataFrame, cfg: CodecConfig, seed: int = 0) -> pd.DataFrame:
    """Per language (and all together): mean CER of every rung with a bootstrap 95 % CI, and
    what each stage costs (the rung with it minus the rung without it, paired over clips)."""
    out = []
    order = list(dict.fromkeys(scores.condition))         # as recorded, then up the ladder
    for lang, g in [*scores.groupby("lang"), ("all", scores)]:
        cer = g.pivot_table(index=["lang", "id"], columns="condition", values="cer")[order]
        for condition in order:
            est, lo, hi = bootstrap_ci(cer[condition], seed=seed)
            out.append({"lang": lang, "what": condition, "kind": "CER", "estimate": est, "low": lo,
                        "high": hi})
        for stage, with_it, without in stages(cfg):
            if with_it in cer and without in cer:
                est, lo, hi = paired_difference_ci(cer[with_it], cer[without], seed=seed)
                out.append({"lang": lang, "what": stage, "kind": "cost (CER)", "estimate": est,
                            "low": lo, "high": hi})
    return pd.DataFrame(out).round(4)


def findings(summary: pd.DataFrame) -> str:
    """One line per language: the original and the codec's CER, and the costliest stage."""
    lines = []
    for lang, g in summary[summary.lang != "all"].groupby("lang"):
        cer = g[g.kind == "CER"].set_index("what")
        cost = g[(g.kind == "cost (CER)") & (g.what != "both codes")].set_index("what")
        top = cost.estimate.idxmax()
        parts = ", ".join(f"{w} {ci_text(r.estimate, r.low, r.high, '+.3f')}" for w, r in cost.iterrows())
        lines.append(f"- {lang}: CER {cer.estimate['original']:.3f} as recorded, "
                     f"{cer.estimate['codec']:.3f} through the codec. What each stage costs: {parts}. "
                     f"The costliest: {top}.")
    return "\n".join(lines)


def table(summary: pd.DataFrame, kind: str) -> pd.DataFrame:
    """``summary`` rows of one kind ("CER" or "cost (CER)") as "estimate [low, high]" strings,
    one column per language, in ladder order."""
    rows = summary[summary.kind == kind]
    number = "{:.3f}" if kind == "CER" else "{:+.3f}"
    cells = rows.assign(cell=[f"{number.format(r.estimate)} [{number.format(r.low)}, {number.format(r.high)}]"
                              for r in rows.itertuples()])
    wide = cells.pivot(index="what", columns="lang", values="cell")
    return wide.loc[list(dict.fromkeys(rows.what))].rename_axis(kind, axis=0).rename_axis(None, axis=1)
