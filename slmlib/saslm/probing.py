"""Linear emotion probes (P2 Tab. 3 / Fig. 5): what a representation knows about the context's
emotion, read by a logistic regression fit on the training dialogues and scored on the test
dialogues (unseen contexts and speakers), with bootstrap CIs over test dialogues.

Two readings of one representation: its reply average (one vector per dialogue, P2's probe)
and each reply token on its own (what the bridge reads and writes, one position at a time).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from slmlib.stats import bootstrap_ci


def fit_probe(x: np.ndarray, y: np.ndarray, seed: int = 0):
    """A standardised logistic regression (scikit-learn) of labels ``y`` on rows ``x``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed)).fit(x, y)


def probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                   seed: int = 0) -> tuple[float, float, float]:
    """(accuracy, low, high) on the test rows of a probe fit on the training rows."""
    hit = (fit_probe(train_x, train_y, seed).predict(test_x) == test_y).astype(float)
    return bootstrap_ci(pd.Series(hit), seed=seed)


def token_probe(train: list[np.ndarray], train_y: np.ndarray, test: list[np.ndarray], test_y: np.ndarray,
                seed: int = 0, max_train_tokens: int = 20_000) -> dict[str, tuple[float, float, float] | int]:
    """A probe fit on single reply tokens (each labelled with its dialogue's emotion; at most
    ``max_train_tokens`` of them, drawn with ``seed``), read two ways on the test dialogues:

    * ``token``: the share of a reply's tokens read right, averaged over dialogues (the CI
      resamples dialogues: the tokens of one reply are not independent draws);
    * ``vote``: the dialogue read right from the token probabilities averaged over its reply.

    ``train`` and ``test`` hold one (T_i, D) array per dialogue."""
    if not train or not test or any(len(t) == 0 for t in train + test):
        raise ValueError("every dialogue needs at least one reply token to probe")
    x = np.concatenate(train)
    y = np.repeat(np.asarray(train_y), [len(t) for t in train])
    pick = np.sort(np.random.default_rng(seed).choice(len(x), min(len(x), max_train_tokens), replace=False))
    clf = fit_probe(x[pick], y[pick], seed)
    share, vote = [], []
    for tokens, label in zip(test, test_y):
        proba = clf.predict_proba(tokens)
        share.append(float((clf.classes_[proba.argmax(1)] == label).mean()))
        vote.append(float(clf.classes_[proba.mean(0).argmax()] == label))
    return {"token": bootstrap_ci(pd.Series(share), seed=seed), "vote": bootstrap_ci(pd.Series(vote), seed=seed),
            "train_tokens": len(pick)}
