"""The speech codec's parameters (one frozen section of :class:`slmlib.config.Config`)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CodecConfig:
    """WORLD analysis -> speaker-normalised mel-cepstra -> (content x pitch) tokens.

    Defaults follow the pilot's measurements (shared/notes/pilot_slm_erosion.md): 40 coded
    envelope dimensions, VQ distance down-weighting dimensions 16-39 by 0.3 and K = 1024
    content codes at P1's 25 tokens/s. Pitch: 1.5-semitone bins over +-7.5 st (12 bins +
    unvoiced = 13 codes). The pilot's 2-st bins over +-6 st (9 codes) cap the F0 correlation
    of expressive Thai at 0.876 (measured on held-out speakers with the pooled F0 quantised
    alone; 0.908 with 1.5-st bins, 0.931 with 1-st bins, 0.955 unquantised).
    """

    tokens_per_second: int = 25        # P1's S3Tokenizer rate; 50 is the measured alternative
    frame_ms: float = 10.0             # WORLD analysis frame; tokens pool 1000/(rate*frame_ms) frames
    n_cepstra: int = 40                # pyworld.code_spectral_envelope dimensions
    codebook_size: int = 1024          # content codes (k-means)
    high_dims_from: int = 16           # cepstra from here on count less in the VQ distance
    high_dims_weight: float = 0.3
    pitch_edges: tuple[float, ...] = (-7.5, -6.0, -4.5, -3.0, -1.5, 0.0, 1.5, 3.0, 4.5, 6.0, 7.5)
    fit_frames: int = 150_000          # pooled frames k-means sees at most
    kmeans_batch: int = 4096
    seed: int = 0

    @property
    def frames_per_token(self) -> int:
        n = 1000.0 / (self.tokens_per_second * self.frame_ms)
        if abs(n - round(n)) > 1e-9 or round(n) < 1:
            raise ValueError(f"{self.tokens_per_second} tokens/s is not a whole number of "
                             f"{self.frame_ms} ms frames")
        return int(round(n))

    @property
    def n_pitch_codes(self) -> int:
        return len(self.pitch_edges) + 2     # bins between/around the edges, plus unvoiced

    @property
    def vocab_size(self) -> int:
        return self.codebook_size * self.n_pitch_codes

    @classmethod
    def smoke(cls) -> "CodecConfig":
        return cls(codebook_size=64, fit_frames=20_000)
