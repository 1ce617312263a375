"""Proxies for P1's human NMOS and SMOS. They are proxies, named so everywhere; no MOS is claimed.

* Naturalness proxy: how far the generated speech's prosody-feature distribution is from held-
  out real speech (Fréchet distance over real-standardised features, per dimension), combined
  with intelligibility from the ASR judge: ``(1 - min(CER, 1)) * exp(-FD / d)``. Human raters
  punish both unintelligible and unnatural-sounding speech; the product is 1 only for speech
  that is perfectly recognised *and* distributed like real speech. The form is our choice (P1
  uses human raters); read its two components, reported beside it, before the product.
* Speaker/style proxy: mean speaker similarity of generated clips to their reference.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from slmlib.prosody import frechet_distance

PROSODY_COLUMNS = ("f0_std_st", "f0_range_st", "energy_std_db", "voiced_share", "chars_per_s")


def naturalness_proxy(generated: pd.DataFrame, real: pd.DataFrame, cer: float,
                      columns: tuple[str, ...] = PROSODY_COLUMNS) -> dict[str, float]:
    """Fréchet distance per dimension, intelligibility (1 - CER) and their combination."""
    missing = sorted(set(columns) - set(generated.columns) - set(real.columns))
    if missing:
        raise ValueError(f"feature tables lack {missing}")
    ref = real[list(columns)].dropna().to_numpy()
    gen = generated[list(columns)].dropna().to_numpy()
    mu, sd = ref.mean(0), ref.std(0) + 1e-9
    fd = frechet_distance((gen - mu) / sd, (ref - mu) / sd) / len(columns)
    intelligibility = 1.0 - min(max(cer, 0.0), 1.0)
    return {"frechet_per_dim": fd, "intelligibility": intelligibility,
            "naturalness_proxy": intelligibility * float(np.exp(-fd))}


def speaker_proxy(similarities: np.ndarray) -> float:
    """Mean speaker similarity to the reference (seed-tts-eval convention)."""
    s = np.asarray(similarities, dtype=float)
    if len(s) == 0:
        raise ValueError("no similarities to average")
    return float(np.nanmean(s))
