"""SpeechCodec: WORLD features -> one integer stream of (content x pitch) tokens, and back.

* content code: k-means on speaker-normalised mel-cepstra pooled over a token's frames, with
  the VQ distance down-weighting the fine spectral detail (dimensions 16-39 x 0.3), which the
  pilot measured as a free ~10-point CER gain;
* pitch code: the token's mean log-F0 in semitones re the speaker's median, in 8 bins, or 0
  when the token is unvoiced;
* timbre (:class:`SpeakerStats`) is never in the tokens: the decoder takes it from a reference.

k-means is scikit-learn's; WORLD is pyworld; this module only wires them into a tokenizer
with a Hugging Face-style ``save_pretrained`` / ``from_pretrained`` folder.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from slmlib.codec.analysis import SAMPLE_RATE, Frames, SpeakerStats, analyse, speaker_stats
from slmlib.codec.config import CodecConfig
from slmlib.prosody import pyworld

CONFIG_FILE = "codec_config.json"


class SpeechCodec:
    def __init__(self, config: CodecConfig, centroids: np.ndarray, pitch_centres: np.ndarray,
                 ap_table: np.ndarray):
        self.config = config
        self.centroids = centroids            # (K, D) in normalised cepstrum units
        self.pitch_centres = pitch_centres    # (P,) semitones re speaker median; [0] unused
        self.ap_table = ap_table              # (K, 2, B) mean coded aperiodicity, unvoiced/voiced
        self._weights = self.vq_weights(config)

    # --- pieces shared by fit, encode and decode -------------------------------------------
    @staticmethod
    def vq_weights(config: CodecConfig) -> np.ndarray:
        w = np.ones(config.n_cepstra)
        w[config.high_dims_from:] = config.high_dims_weight
        return w

    @staticmethod
    def pool(frames: Frames, stats: SpeakerStats, config: CodecConfig, frames_per_step: int | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per step (a token's frames unless ``frames_per_step`` is given): mean normalised
        cepstrum (L, D), voiced flag (L,), mean semitones (L,)."""
        n = frames_per_step or config.frames_per_token
        cep = _in_steps((frames.cepstra - stats.cepstra_mean) / stats.cepstra_std, n)
        f0 = _in_steps(frames.f0, n)
        st = np.where(f0 > 0, 12 * (np.log(np.maximum(f0, 1e-3)) - stats.log_f0_median) / np.log(2), 0.0)
        voiced_frames = f0 > 0
        voiced = voiced_frames.mean(axis=1) >= 0.5
        st_sum = (st * voiced_frames).sum(axis=1)
        st_mean = st_sum / np.maximum(voiced_frames.sum(axis=1), 1)
        return cep.mean(axis=1), voiced, st_mean

    @staticmethod
    def pool_aperiodicity(frames: Frames, frames_per_step: int) -> np.ndarray:
        """Mean coded aperiodicity per step (L, B), padded like :meth:`pool`."""
        return _in_steps(frames.aperiodicity, frames_per_step).mean(axis=1)

    def pitch_codes(self, voiced: np.ndarray, st: np.ndarray) -> np.ndarray:
        return np.where(voiced, 1 + np.digitize(st, self.config.pitch_edges), 0)

    def content_codes(self, pooled: np.ndarray) -> np.ndarray:
        a = pooled * self._weights
        c = self.centroids * self._weights
        d = (a ** 2).sum(1, keepdims=True) - 2 * a @ c.T + (c ** 2).sum(1)
        return d.argmin(axis=1)

    # --- the interface ------------------------------------------------------------------------
    def timbre(self, wavs: list[np.ndarray], sample_rate: int = SAMPLE_RATE) -> SpeakerStats:
        """Speaker statistics from one or more reference clips."""
        cfg = self.config
        return speaker_stats([analyse(w, cfg.n_cepstra, cfg.frame_ms, sample_rate, aperiodicity=False)
                              for w in wavs])

    def encode(self, wav: np.ndarray, stats: SpeakerStats, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """Audio -> int64 tokens, ``tokens_per_second`` of them per second."""
        frames = analyse(wav, self.config.n_cepstra, self.config.frame_ms, sample_rate,
                         aperiodicity=False)
        return self.encode_frames(frames, stats)

    def encode_frames(self, frames: Frames, stats: SpeakerStats) -> np.ndarray:
        pooled, voiced, st = self.pool(frames, stats, self.config)
        content = self.content_codes(pooled)
        return (content * self.config.n_pitch_codes + self.pitch_codes(voiced, st)).astype(np.int64)

    def decode(self, tokens: np.ndarray, stats: SpeakerStats) -> np.ndarray:
        """Tokens + a reference's timbre -> 16 kHz float32 audio (WORLD synthesis)."""
        cfg = self.config
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 1 or len(tokens) == 0:
            raise ValueError(f"decode needs a non-empty 1-D token sequence, got shape {tokens.shape}")
        if tokens.min() < 0 or tokens.max() >= cfg.vocab_size:
            raise ValueError(f"tokens must lie in [0, {cfg.vocab_size}), got {tokens.min()}..{tokens.max()}")
        content, pitch = tokens // cfg.n_pitch_codes, tokens % cfg.n_pitch_codes
        voiced = pitch > 0
        return self.decode_steps(self.centroids[content], voiced, self.pitch_centres[pitch],
                                 self.ap_table[content, voiced.astype(int)], stats)

    def decode_steps(self, cepstra: np.ndarray, voiced: np.ndarray, semitones: np.ndarray,
                     aperiodicity: np.ndarray, stats: SpeakerStats,
                     frames_per_step: int | None = None) -> np.ndarray:
        """Per-step features -> audio: speaker-normalised cepstra (L, D), voicing (L,), semitones
        re the speaker's median (L,) and coded aperiodicity (L, B), each step
        ``frames_per_step`` frames long (default: one token's). ``decode`` looks the steps up in
        the codebooks; :mod:`slmlib.codec.ceiling` feeds unquantised ones to see what each
        stage of the codec costs.

        Envelopes are interpolated linearly between step centres and F0 is interpolated and
        smoothed inside voiced runs, so there is no buzz or click at step edges.
        """
        cfg = self.config
        n = frames_per_step or cfg.frames_per_token
        length = len(voiced)
        frame_idx = np.arange(length * n)
        centres = (np.arange(length) + 0.5) * n - 0.5
        cep_steps = cepstra * stats.cepstra_std + stats.cepstra_mean
        cep = np.stack([np.interp(frame_idx, centres, cep_steps[:, d]) for d in range(cfg.n_cepstra)], 1)
        voiced_frames = np.repeat(voiced, n)
        log_f0 = np.zeros(len(frame_idx))
        if voiced.any():
            st = np.interp(frame_idx, centres[voiced], semitones[voiced])
            st = _smooth_runs(st, voiced_frames, width=5)
            log_f0 = stats.log_f0_median + st * np.log(2) / 12
        f0 = np.where(voiced_frames, np.exp(log_f0), 0.0)
        ap_coded = np.repeat(aperiodicity, n, axis=0)
        fft = pyworld.get_cheaptrick_fft_size(SAMPLE_RATE)
        sp = pyworld.decode_spectral_envelope(np.ascontiguousarray(cep), SAMPLE_RATE, fft)
        ap = pyworld.decode_aperiodicity(np.ascontiguousarray(ap_coded), SAMPLE_RATE, fft)
        y = pyworld.synthesize(f0, sp, ap, SAMPLE_RATE, cfg.frame_ms)
        return np.clip(y, -1.0, 1.0).astype(np.float32)

    # --- artefact ---------------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_FILE).write_text(json.dumps(dataclasses.asdict(self.config), indent=1))
        np.savez(folder / "codebooks.npz", centroids=self.centroids,
                 pitch_centres=self.pitch_centres, ap_table=self.ap_table)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "SpeechCodec":
        folder = Path(folder)
        if not (folder / CONFIG_FILE).exists():
            raise FileNotFoundError(f"{folder} holds no {CONFIG_FILE}: not a saved SpeechCodec")
        raw = json.loads((folder / CONFIG_FILE).read_text())
        raw["pitch_edges"] = tuple(raw["pitch_edges"])
        arrays = np.load(folder / "codebooks.npz")
        return cls(CodecConfig(**raw), arrays["centroids"], arrays["pitch_centres"], arrays["ap_table"])

    # --- fitting ------------------------------------------------------------------------------------
    @classmethod
    def fit_frames(cls, config: CodecConfig, utterances: list[tuple[Frames, SpeakerStats]]
                   ) -> "SpeechCodec":
        """Fit the content codebook, the pitch-bin centres and the aperiodicity table."""
        from sklearn.cluster import MiniBatchKMeans

        pooled, voiced, st, ap = [], [], [], []
        for frames, stats in utterances:
            p, v, s = cls.pool(frames, stats, config)
            pooled.append(p)
            voiced.append(v)
            st.append(s)
            ap.append(cls.pool_aperiodicity(frames, config.frames_per_token))
        X, V, S, A = np.concatenate(pooled), np.concatenate(voiced), np.concatenate(st), np.concatenate(ap)
        if len(X) < config.codebook_size:
            raise ValueError(f"{len(X)} pooled frames cannot fit {config.codebook_size} codes; "
                             "give the codec more audio or a smaller codebook_size")
        rng = np.random.default_rng(config.seed)
        subset = rng.permutation(len(X))[: config.fit_frames]
        w = cls.vq_weights(config)
        km = MiniBatchKMeans(config.codebook_size, batch_size=config.kmeans_batch, n_init=3,
                             random_state=config.seed).fit(X[subset] * w)
        centroids = km.cluster_centers_ / w
        codec = cls(config, centroids, np.zeros(config.n_pitch_codes), np.zeros((1, 2, A.shape[1])))
        content = codec.content_codes(X)
        pitch = codec.pitch_codes(V, S)
        centres = np.array([S[pitch == p].mean() if (pitch == p).any() else 0.0
                            for p in range(config.n_pitch_codes)])
        table = np.zeros((config.codebook_size, 2, A.shape[1]))
        for v in (0, 1):
            fallback = A[V == v].mean(axis=0) if (V == v).any() else A.mean(axis=0)
            sums = np.zeros((config.codebook_size, A.shape[1]))
            counts = np.zeros(config.codebook_size)
            np.add.at(sums, content[V == v], A[V == v])
            np.add.at(counts, content[V == v], 1)
            table[:, v] = np.where(counts[:, None] > 0, sums / np.maximum(counts[:, None], 1), fallback)
        return cls(config, centroids, centres, table)


def _in_steps(x: np.ndarray, n: int) -> np.ndarray:
    """Frames (T, ...) as steps of ``n`` frames (L, n, ...), the last step padded with the last
    frame."""
    length = max(1, int(np.ceil(len(x) / n)))
    pad = [(0, length * n - len(x))] + [(0, 0)] * (x.ndim - 1)
    return np.pad(x, pad, mode="edge").reshape(length, n, *x.shape[1:])


def _smooth_runs(values: np.ndarray, mask: np.ndarray, width: int) -> np.ndarray:
    """Moving average of ``values`` inside each run of True in ``mask`` (edges not mixed)."""
    out = values.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    kernel = np.ones(width) / width
    for start, end in zip(edges[::2], edges[1::2]):
        if end - start >= width:
            seg = np.pad(values[start:end], width // 2, mode="edge")
            out[start:end] = np.convolve(seg, kernel, mode="valid")
    return out
