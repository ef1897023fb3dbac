"""Drift of text inputs and of the predicted class mix, for models that read text.

A text model sees words, not features: when its inputs change, the first signs are words it never
saw in training (the out-of-vocabulary rate), a different mix of frequent words, and longer or
shorter texts. :func:`text_reference` keeps what the training texts looked like (a compact
vocabulary with document counts, the shares of the most frequent words, the mean length, and an
honest baseline out-of-vocabulary rate); :func:`text_drift` compares a window of texts with it and
names the words that rose the most, which is what an analyst reads to see *what* changed.

The predicted labels are watched two ways: :func:`mix_drift` compares a window's class shares with
the training shares (PSI and a chi-square test), and :func:`mix_shifts` is a p-chart over
consecutive windows that flags a sudden jump of one class's share against the windows just before.

One tokenizer serves reference and current texts alike: lower-cased runs of two or more word
characters (the ``\\b\\w\\w+\\b`` pattern of scikit-learn's vectorizers), so one-letter words and
punctuation are not tokens.

>>> tokens("Where's my NEW card? It's been 2 weeks!")
['where', 'my', 'new', 'card', 'it', 'been', 'weeks']
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from itertools import chain
from typing import Any

import numpy as np

from poc2prod.monitor._drift import chi_square, psi

_TOKEN = re.compile(r"\b\w\w+\b")
MAX_VOCABULARY = 50_000
MIN_TEXTS = 2  # a token is in the vocabulary when at least this many reference texts contain it
RISEN = 10
_FOLDS = 10  # the baseline out-of-vocabulary rate: each tenth of the texts against the rest


def tokens(text: str) -> list[str]:
    """The word tokens of one text, lower-cased; a missing text (None, NaN) has none.

    >>> tokens("$TSLA up 5% after earnings")
    ['tsla', 'up', 'after', 'earnings']
    """
    return _TOKEN.findall(text.lower()) if isinstance(text, str) else []


def _document_counts(token_lists: Iterable[list[str]]) -> Counter[str]:
    """How many texts contain each token (a token repeated within one text counts once)."""
    return Counter(chain.from_iterable(map(set, token_lists)))


def _vocabulary(doc_counts: Counter[str], max_size: int) -> dict[str, int]:
    """Tokens in at least :data:`MIN_TEXTS` texts, most frequent first (ties alphabetical), capped."""
    kept = [(t, n) for t, n in doc_counts.items() if n >= MIN_TEXTS]
    kept.sort(key=lambda tn: (-tn[1], tn[0]))
    return dict(kept[:max_size])


def _oov(token_lists: Sequence[list[str]], vocabulary: Container[str]) -> tuple[int, int]:
    """(tokens not in ``vocabulary``, all tokens) over ``token_lists``."""
    counts = Counter(chain.from_iterable(token_lists))
    return sum(n for t, n in counts.items() if t not in vocabulary), sum(counts.values())


@dataclass
class TextReference:
    """What the training texts looked like; JSON-ready through :meth:`to_dict` / :meth:`from_dict`.

    ``vocabulary`` maps each kept token to the number of reference texts that contain it, most
    frequent first; ``top_shares`` maps the ``top`` most frequent of them to the share of texts
    that contain them. ``distinct_per_text`` (the mean number of distinct tokens in a text) turns
    those shares into a distribution for the PSI: a token's share of all (text, token) pairs.
    """

    n_texts: int
    vocabulary: dict[str, int]
    top_shares: dict[str, float]
    distinct_per_text: float
    mean_length: float
    oov_rate: float
    _known: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._known = frozenset(self.vocabulary)

    def to_dict(self) -> dict:
        """A JSON-ready copy."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TextReference:
        """The reference back from :meth:`to_dict` (after a JSON round trip)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.init})


def text_reference(
    texts: Sequence[str], *, top: int = 500, max_vocabulary: int = MAX_VOCABULARY
) -> TextReference:
    """The reference statistics of the training ``texts``.

    The vocabulary keeps the tokens found in at least two texts, at most ``max_vocabulary`` of the
    most frequent: words seen once are mostly typos and ids, and would only make the vocabulary
    large. The baseline out-of-vocabulary rate is measured honestly, not against the vocabulary
    the texts themselves built (that would be zero by construction): the texts are dealt into ten
    interleaved folds (every tenth text, so a file sorted by class splits evenly) and each fold's
    tokens are checked against the vocabulary of the other nine (a token then needs two texts
    outside the fold). Nine tenths of the texts know slightly fewer words than all of them, so
    the baseline sits a little above what fresh texts from the same source show against the full
    vocabulary: a current rate at or below it is normal, several times it is new language.

    >>> texts = ["my card is lost", "card lost again", "lost my pin", "my pin is blocked"]
    >>> ref = text_reference(texts, top=3)
    >>> ref.vocabulary
    {'lost': 3, 'my': 3, 'card': 2, 'is': 2, 'pin': 2}
    >>> ref.top_shares
    {'lost': 0.75, 'my': 0.75, 'card': 0.5}
    >>> ref.mean_length
    3.5
    """
    if len(texts) == 0:
        raise ValueError("text_reference needs at least one text")
    token_lists = [tokens(t) for t in texts]
    n = len(token_lists)
    doc_counts = _document_counts(token_lists)
    vocabulary = _vocabulary(doc_counts, max_vocabulary)
    missed = total = 0
    folds = min(_FOLDS, n)
    for f in range(folds):
        held = token_lists[f::folds]
        held_out = _document_counts(held)
        known = {t for t in held_out if t in vocabulary and doc_counts[t] - held_out[t] >= MIN_TEXTS}
        m, t = _oov(held, known)
        missed, total = missed + m, total + t
    return TextReference(
        n_texts=n,
        vocabulary=vocabulary,
        top_shares={t: c / n for t, c in list(vocabulary.items())[:top]},
        distinct_per_text=sum(doc_counts.values()) / n,
        mean_length=sum(map(len, token_lists)) / n,
        oov_rate=missed / total if total and n >= 2 else float("nan"),
    )


def text_drift(reference: TextReference, texts: Sequence[str]) -> dict:
    """How far a window of ``texts`` has moved from the ``reference`` texts.

    Returns ``texts`` (how many), ``oov_rate`` (share of the window's tokens not in the reference
    vocabulary) beside ``reference_oov_rate``, ``psi`` of the top tokens' document-frequency
    distribution (each top token's share of all (text, distinct token) pairs, plus one bucket for
    all other tokens; read it like any PSI: below 0.1 stable, above 0.2 a significant shift),
    ``psi_noise`` (the PSI a window of this size reaches by chance alone, see :func:`psi_noise`),
    ``mean_length`` beside ``reference_mean_length`` (tokens per text), and ``risen``: up to 10
    tokens whose share of texts rose the most (in at least two texts of the window), each with its
    ``share`` now, its ``reference_share`` (0 when the reference kept no count of it), the
    ``rise`` (the difference) and whether it is ``in_vocabulary``.

    >>> ref = text_reference(["my card is lost", "card lost again", "lost my pin", "my pin is blocked"])
    >>> d = text_drift(ref, ["is my crypto lost", "crypto crash", "my crypto wallet"])
    >>> round(d["oov_rate"], 3), [r["token"] for r in d["risen"]]
    (0.556, ['crypto'])
    """
    token_lists = [tokens(t) for t in texts]
    n = len(token_lists)
    nan = float("nan")
    if n == 0:
        return {
            "texts": 0,
            "oov_rate": nan,
            "reference_oov_rate": reference.oov_rate,
            "psi": nan,
            "mean_length": nan,
            "reference_mean_length": reference.mean_length,
            "risen": [],
        }
    missed, total = _oov(token_lists, reference._known)
    doc_counts = _document_counts(token_lists)
    pairs = sum(doc_counts.values())
    expected = [s / reference.distinct_per_text for s in reference.top_shares.values()]
    actual = [doc_counts.get(t, 0) / pairs for t in reference.top_shares] if pairs else []
    ref_n = reference.n_texts
    rises = (
        (c / n - reference.vocabulary.get(t, 0) / ref_n, t, c)
        for t, c in doc_counts.items()
        if c >= MIN_TEXTS
    )
    risen = [
        {
            "token": t,
            "share": c / n,
            "reference_share": reference.vocabulary.get(t, 0) / ref_n,
            "rise": rise,
            "in_vocabulary": t in reference._known,
        }
        for rise, t, c in heapq.nlargest(RISEN, rises)
        if rise > 0
    ]
    shares = [*expected, max(1.0 - sum(expected), 0.0)]
    return {
        "texts": n,
        "oov_rate": missed / total if total else nan,
        "reference_oov_rate": reference.oov_rate,
        "psi": psi(shares, [*actual, max(1.0 - sum(actual), 0.0)]) if pairs else nan,
        "psi_noise": psi_noise(shares, pairs) if pairs else nan,
        "mean_length": total / n,
        "reference_mean_length": reference.mean_length,
        "risen": risen,
    }


def psi_noise(shares: Sequence[float], n: int, *, level: float = 0.999, draws: int = 400) -> float:
    """The PSI that ``n`` draws from ``shares`` themselves exceed with probability ``1 - level``.

    PSI grows as samples shrink even when nothing changed (hundreds of token buckets filled by a
    few thousand words read as a shift), so a window's PSI is an alert only above this floor as
    well as above the configured threshold. Simulated from the multinomial, with a fixed seed.

    >>> round(psi_noise([0.5, 0.5], 10_000), 3) < 0.01 < round(psi_noise([0.01] * 100, 200), 3)
    True
    """
    p = np.asarray(shares, dtype=float)
    p = p / p.sum()
    samples = np.random.default_rng(0).multinomial(n, p, size=draws) / n
    return float(np.quantile([psi(p, sample) for sample in samples], level))


def _class_counts(labels: Sequence[str] | np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Counts of each of ``classes`` among ``labels`` (compared as strings); other labels are an error."""
    index = {str(c): i for i, c in enumerate(classes)}
    values, counts = np.unique(np.asarray(labels).astype(str), return_counts=True)
    unknown = [v for v in values if v not in index]
    if unknown:
        raise ValueError(f"labels not among the classes: {unknown[:5]}")
    out = np.zeros(len(classes), dtype=np.int64)
    out[[index[v] for v in values]] = counts
    return out


def class_mix(labels: Sequence[str] | np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """The share of each of ``classes`` among ``labels`` (NaNs when there are none).

    >>> class_mix(["bullish", "neutral", "neutral", "neutral"], ["bearish", "bullish", "neutral"])
    array([0.  , 0.25, 0.75])
    """
    counts = _class_counts(labels, classes)
    total = counts.sum()
    return counts / total if total else np.full(len(classes), np.nan)


def mix_drift(
    reference_shares: Sequence[float] | Mapping[str, float] | np.ndarray,
    current_labels: Sequence[str] | np.ndarray,
    classes: Sequence[str],
) -> dict:
    """How far the class mix of ``current_labels`` has moved from the ``reference_shares``.

    ``reference_shares`` are in the order of ``classes`` (or a mapping class -> share). Returns
    ``labels`` (how many), ``counts`` and ``shares`` (now, in the order of ``classes``), ``psi``
    (the size of the move) and Pearson's ``chi_square`` with its ``p_value`` (the evidence that it
    moved at all: on a large window even a negligible move is significant, so read both).

    >>> d = mix_drift([0.5, 0.5], ["a"] * 70 + ["b"] * 30, ["a", "b"])
    >>> round(d["psi"], 3), round(d["chi_square"], 1), d["p_value"] < 0.001
    (0.169, 16.0, True)
    """
    if isinstance(reference_shares, Mapping):
        reference_shares = [reference_shares[c] for c in classes]
    expected = np.asarray(reference_shares, dtype=float)
    if expected.shape != (len(classes),):
        raise ValueError(f"{len(expected)} reference shares for {len(classes)} classes")
    counts = _class_counts(current_labels, classes)
    total = int(counts.sum())
    shares = counts / total if total else np.full(len(classes), np.nan)
    stat, p = chi_square(
        dict(zip(map(str, classes), expected, strict=True)),
        dict(zip(map(str, classes), counts.tolist(), strict=True)),
    )
    return {
        "labels": total,
        "counts": counts.tolist(),
        "shares": shares.tolist(),
        "psi": psi(expected, shares) if total else float("nan"),
        "chi_square": stat,
        "p_value": p,
    }


def mix_shifts(
    counts: np.ndarray, classes: Sequence[str], *, baseline: int = 7, alpha: float = 0.0027
) -> list[dict]:
    """Sudden shifts of a class's share: a p-chart of each window against the windows just before.

    ``counts`` is a (windows x classes) array of predicted-label counts per time window, in time
    order. From window ``baseline`` on, each class's share in the window is compared with its
    pooled share p̄ over the ``baseline`` preceding windows (N rows in all); a window of n rows is
    flagged when its share leaves p̄ ± z·sqrt(p̄(1-p̄)(1/n + 1/N)), z the two-sided normal quantile
    of ``alpha`` (3 for the default 0.0027, the classic 3-sigma chart). The 1/N term is the
    baseline's own uncertainty: without it the textbook limits p̄ ± z·sqrt(p̄(1-p̄)/n) would raise
    more false alarms than ``alpha`` when p̄ comes from only a few windows (with a baseline of 7
    windows about 0.005, twice the 0.0027 it claims); with it the limits tend to the textbook
    ones as the baseline grows.

    False alarms: with no change, each (window, class) check is flagged with probability about
    ``alpha`` (normal approximation to the binomial; it holds when n·p̄ is at least about 5, and
    the windows' counts vary only as random samples of one stream: a weekly cycle or bursty
    traffic adds variation the chart reads as shifts). Over W windows and K classes expect about
    ``alpha`` x (W - ``baseline``) x K false alarms: 0.19 for 30 windows and 3 classes (one run in
    six with any), but 4.8 for 30 windows and 77 classes, so for many classes pass a smaller
    ``alpha`` (e.g. 0.0027 / K). The checks of one window are not independent (the shares sum to
    one; with two classes both are flagged together).

    The baseline rolls: a lasting shift is flagged from its first window until it fills the
    baseline, after which the chart takes the new level as normal. Windows with no rows are not
    checked, and an empty baseline checks nothing.

    Returns one dict per flagged (window, class), in time order: ``window`` (index into
    ``counts``), ``class``, ``rows`` (n), ``share``, ``expected`` (p̄), ``lower`` and ``upper``
    limits (clipped to [0, 1]), ``z`` and ``direction`` ("up" or "down").

    >>> steady = [[80, 20]] * 7
    >>> shifts = mix_shifts(np.array(steady + [[50, 50]]), ["ok", "ko"])
    >>> [(s["window"], s["class"], s["direction"]) for s in shifts]
    [(7, 'ok', 'down'), (7, 'ko', 'up')]
    >>> mix_shifts(np.array(steady + [[78, 22]]), ["ok", "ko"])
    []
    """
    from scipy.stats import norm

    c = np.asarray(counts, dtype=float)
    if c.ndim != 2 or c.shape[1] != len(classes):
        raise ValueError(f"counts must be windows x {len(classes)} classes, got shape {c.shape}")
    if baseline < 1:
        raise ValueError("baseline must be at least one window")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    if len(c) <= baseline:
        return []
    z_crit = float(norm.isf(alpha / 2))
    cum = np.vstack([np.zeros((1, c.shape[1])), np.cumsum(c, axis=0)])
    base = cum[baseline:-1] - cum[: -baseline - 1]  # row w - baseline: the counts before window w
    now = c[baseline:]
    n = now.sum(axis=1, keepdims=True)
    big_n = base.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_bar = base / big_n
        share = now / n
        sigma = np.sqrt(p_bar * (1 - p_bar) * (1 / n + 1 / big_n))
        diff = share - p_bar
        z = np.where(sigma > 0, diff / sigma, np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    checked = (n > 0) & (big_n > 0)
    flagged = checked & (np.abs(z) > z_crit)
    out = []
    for w, k in zip(*np.nonzero(flagged), strict=True):
        half = z_crit * sigma[w, k]
        out.append(
            {
                "window": int(w + baseline),
                "class": classes[k],
                "rows": int(n[w, 0]),
                "share": float(share[w, k]),
                "expected": float(p_bar[w, k]),
                "lower": max(float(p_bar[w, k] - half), 0.0),
                "upper": min(float(p_bar[w, k] + half), 1.0),
                "z": float(z[w, k]),
                "direction": "up" if z[w, k] > 0 else "down",
            }
        )
    return out
