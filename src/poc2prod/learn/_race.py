"""Racing candidates with k-fold cross-validation under a wall-clock deadline.

The budget is honoured by three means, each reported in the candidate's ``note``:

* a probe fit on a small sample projects each candidate's fold time before it starts; when its
  folds would not fit its share of the time left, it trains on a row sample per fold (validation
  folds stay whole, so every score is measured on the same rows) or is skipped;
* gradient boosting stops growing trees at the fold's deadline;
* a candidate whose next fold would overrun stops with the folds it has (``partial``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning

from poc2prod.learn._candidates import Context, get_candidate
from poc2prod.learn._ensemble import blend, greedy_weights
from poc2prod.metrics import METRICS, compute

# Above this many training rows a probe on _PROBE_ROWS rows predicts the fold time first.
_PROBE_ABOVE = 6_000
_PROBE_ROWS = 2_000
_MIN_ROWS = 200
# A candidate may use up to this multiple of its fair share of the time left, so time saved by
# quick candidates flows to the slower, usually stronger ones.
_SHARE = 2.0
_SAFETY = 1.25
_WARMED: set[str] = set()  # learners whose one-off costs this process has paid
_MIN_WEIGHT = 0.1

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class CandidateResult:
    """How one candidate did across the folds it ran."""

    name: str
    status: str = "pending"  # done | partial | skipped | failed
    note: str | None = None
    folds_done: int = 0
    folds_total: int = 0
    fold_metrics: list[dict[str, float]] = field(default_factory=list)
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    train_rows: int | None = None
    best_iterations: list[int] = field(default_factory=list)
    stopped_by_deadline: bool = False  # a booster stopped growing at the clock, not by early stopping
    oof: np.ndarray | None = None
    weights: dict[str, float] | None = None

    @property
    def usable(self) -> bool:
        """Whether it has at least one scored fold."""
        return self.status in ("done", "partial") and self.folds_done > 0

    def mean(self, metric: str) -> float:
        """Mean of ``metric`` over the folds it ran (NaN if none)."""
        vals = [m[metric] for m in self.fold_metrics if np.isfinite(m.get(metric, np.nan))]
        return float(np.mean(vals)) if vals else float("nan")

    def std(self, metric: str) -> float:
        """Standard deviation of ``metric`` over the folds it ran."""
        vals = [m[metric] for m in self.fold_metrics if np.isfinite(m.get(metric, np.nan))]
        return float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0


@dataclass
class RaceSetup:
    """Everything fixed for one race."""

    task: str
    ctx: Context
    metrics: list[str]
    primary: str
    threshold: float
    n_classes: int | None


def race(
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    names: Sequence[str],
    setup: RaceSetup,
    deadline: float,
    on_event: Event | None = None,
    reserve: Callable[[list[CandidateResult]], float] | None = None,
) -> list[CandidateResult]:
    """Cross-validate each candidate in ``names`` in turn until ``deadline`` (``time.monotonic``).

    ``reserve``, given the results so far, says how many seconds before the deadline to stop
    starting work (e.g. what refitting the leaders will need).
    """
    emit = on_event or (lambda kind, info: None)
    results: list[CandidateResult] = []
    for i, name in enumerate(names):
        held_back = reserve(results) if reserve else 0.0
        result = CandidateResult(name=name, folds_total=len(folds))
        results.append(result)
        remaining = deadline - held_back - time.monotonic()
        if remaining < 0.5:
            result.status, result.note = "skipped", "the time budget was spent before it could start"
            emit("candidate_end", {"result": result, "primary": setup.primary})
            continue
        allowance = min(remaining, _SHARE * remaining / (len(names) - i))
        emit("candidate_start", {"name": name, "allowance": allowance})
        try:
            _run_candidate(X, y, folds, setup, result, time.monotonic() + allowance, emit)
        except Exception as e:  # one failing learner must not end the race
            result.status, result.note = "failed", f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        emit("candidate_end", {"result": result, "primary": setup.primary})
    return results


def cross_validate(
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    setup: RaceSetup,
    name: str,
    until: float,
    *,
    build: Callable[[], Any] | None = None,
    on_fold: Callable[[CandidateResult], None] | None = None,
) -> CandidateResult:
    """Cross-validate one model until ``until`` (``time.monotonic``), as the race does.

    ``build`` makes the fresh pipeline for each fold (default: candidate ``name`` with the
    setup's context); ``on_fold`` sees the result after each fold and may raise to stop early
    (the optimize gate prunes hopeless Optuna trials this way).
    """
    result = CandidateResult(name=name, folds_total=len(folds))
    _run_candidate(X, y, folds, setup, result, until, lambda kind, info: None, build, on_fold)
    return result


def _run_candidate(
    X,
    y,
    folds,
    setup: RaceSetup,
    result: CandidateResult,
    until: float,
    emit: Event,
    build: Callable[[], Any] | None = None,
    on_fold: Callable[[CandidateResult], None] | None = None,
) -> None:
    candidate = get_candidate(result.name)
    build = build or (lambda: candidate.build(setup.ctx))
    k = len(folds)
    n_fold_train = len(folds[0][0])
    cap = None
    if candidate.warm is not None:
        # Shared work (embedding every text) may take up to most of the candidate's time share.
        why = candidate.warm(X, setup.ctx, 0.7 * (until - time.monotonic()))
        if why:
            result.status, result.note = "skipped", why
            return
    # Boosters stop at their deadline, so only learners that cannot be interrupted are probed.
    if n_fold_train > _PROBE_ABOVE and not candidate.early_stopping:
        fit_time = _probe(X, y, folds[0][0], setup, result.name, build, until)
        left = until - time.monotonic()
        projected = fit_time.seconds(n_fold_train) * k * _SAFETY
        if projected > left:
            cap = min(n_fold_train, fit_time.rows(left / (k * _SAFETY)))
            if cap >= 0.9 * n_fold_train:  # within the projection's own error: not worth a sample
                cap = None
            if cap is not None and cap < _MIN_ROWS:
                result.status = "skipped"
                result.note = (
                    f"{k} folds would take about {projected:.0f}s; "
                    f"its share of the budget is {max(left, 0.0):.0f}s"
                )
                return
    oof = _empty_oof(len(y), setup)
    fit_times, predict_times = [], []
    rng = np.random.default_rng(setup.ctx.seed)
    notes, cut_short = [], []
    for j, (tr, va) in enumerate(folds):
        now = time.monotonic()
        if j > 0 and now + fit_times[-1] * _SAFETY > until:
            notes.append(f"stopped after {j} of {k} folds at its time share")
            break
        if cap is not None and len(tr) > cap:
            tr = _subsample(tr, y, cap, rng, setup.task)
        model = build()
        _set_deadline(model, now + (until - now) / (k - j))
        t0 = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X.iloc[tr], y[tr])
        fit_times.append(time.monotonic() - t0)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            notes.append("did not fully converge")
        t0 = time.monotonic()
        pred = predict(model, X.iloc[va], setup.task, setup.n_classes)
        predict_times.append(time.monotonic() - t0)
        oof[va] = pred
        booster = model.named_steps["model"]
        if hasattr(booster, "best_iteration_"):
            result.best_iterations.append(booster.best_iteration_)
            if booster.stopped_by_deadline_:
                cut_short.append(booster.best_iteration_)
        result.fold_metrics.append(compute(setup.task, setup.metrics, y[va], pred, setup.threshold))
        result.folds_done = j + 1
        emit(
            "fold_end",
            {"name": result.name, "fold": j + 1, "folds": k, "score": result.fold_metrics[-1][setup.primary]},
        )
        if on_fold is not None:
            result.fit_seconds = float(np.mean(fit_times))
            on_fold(result)
    result.fit_seconds = float(np.mean(fit_times))
    result.predict_seconds = float(np.mean(predict_times))
    result.status = "done" if result.folds_done == k else "partial"
    if cap is not None:
        result.train_rows = cap
        notes.insert(0, f"trained on {cap:,} of {n_fold_train:,} rows per fold to fit the budget")
    result.stopped_by_deadline = bool(cut_short)
    if cut_short:
        notes.append(
            f"boosting was stopped by the time budget in {len(cut_short)} fold(s), "
            f"at {min(cut_short)}–{max(cut_short)} rounds"
        )
    result.oof = oof if result.folds_done else None
    result.note = "; ".join(dict.fromkeys(notes)) or None


def _probe(
    X, y, rows: np.ndarray, setup: RaceSetup, name: str, build: Callable[[], Any], until: float
) -> _FitTime:
    """Seconds one fit takes on n rows, as a function of n, from timed fits on two row samples.

    The first probe of a learner in a process starts with an untimed fit on a few rows, which pays
    the one-off costs (imports, caches) that would otherwise look like time per row; the growth
    between the two timed sizes gives the exponent
    (a linear SVM with many classes or a forest grows faster than linearly in the rows).
    """
    sample = np.random.default_rng(setup.ctx.seed).choice(rows, _PROBE_ROWS, replace=False)
    sizes = (_PROBE_ROWS // 4, _PROBE_ROWS)
    if name not in _WARMED:  # the first fit of a learner in this process also pays its imports
        sizes = (_PROBE_ROWS // 20, *sizes)
        _WARMED.add(name)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a probe on a sample warns of things the real fit will not
        for n in sizes:
            model = build()
            _set_deadline(model, until)
            t0 = time.monotonic()
            model.fit(X.iloc[sample[:n]], y[sample[:n]])
            times.append(time.monotonic() - t0)
    small, large = times[-2], times[-1]
    exponent = float(np.clip(np.log(max(large, 1e-6) / max(small, 1e-6)) / np.log(4.0), 1.0, 2.0))
    return _FitTime(max(large, 1e-6), exponent)


@dataclass(frozen=True)
class _FitTime:
    """A fit's projected seconds on n rows: ``at_probe`` seconds on the probe's rows, growing as
    the rows to the power ``exponent``."""

    at_probe: float
    exponent: float

    def seconds(self, n: float) -> float:
        return self.at_probe * (n / _PROBE_ROWS) ** self.exponent

    def rows(self, seconds: float) -> int:
        """The most rows a fit projects to take at most ``seconds`` on (0 when none fit)."""
        if seconds <= 0:
            return 0
        return int(_PROBE_ROWS * (seconds / self.at_probe) ** (1 / self.exponent))


def ensemble(
    results: Sequence[CandidateResult],
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    setup: RaceSetup,
) -> CandidateResult | None:
    """A greedy ensemble of the cross-validated candidates, scored honestly.

    Its fold scores come from weights chosen on the other folds only (nested), so the ensemble
    is not flattered by choosing and scoring on the same predictions. A candidate the clock
    stopped one fold short joins too (it is often the slowest, strongest learner): each fold is
    scored by the blend of the members that predicted it, weighted on rows they all predicted.
    """
    k = len(folds)
    pool = [r for r in results if r.oof is not None and r.name != "dummy" and r.folds_done >= max(2, k - 1)]
    if len(pool) < 2:
        return None
    m = METRICS[setup.primary]
    # have[f][i]: whether pool member i predicted fold f (a fold is scored whole or not at all).
    have = [[bool(np.isfinite(r.oof[va]).all()) for r in pool] for _, va in folds]

    def weights_on(fold_ids: Sequence[int], members: list[int]) -> np.ndarray:
        """Weights over the pool, chosen on the rows of ``fold_ids`` that all ``members`` predicted;
        the least-covered members give way while no such rows exist."""
        members = sorted(members, key=lambda i: -pool[i].folds_done)
        while True:
            shared = [f for f in fold_ids if all(have[f][i] for i in members)]
            if shared or len(members) == 1:
                break
            members = members[:-1]
        rows = np.concatenate([folds[f][1] for f in shared])

        def score(p):
            return m.fn(y[rows], p, setup.threshold)

        w = greedy_weights([pool[i].oof[rows] for i in members], score, greater_is_better=m.greater_is_better)
        # Members with a sliver of weight cost a whole refit and change little: drop them here,
        # inside the nested loop too, so the score reported is that of the ensemble refitted.
        w = np.where((w >= _MIN_WEIGHT) | (w == w.max()), w, 0.0)
        full = np.zeros(len(pool))
        full[members] = w / w.sum()
        return full

    out = CandidateResult(name="ensemble", folds_total=k, status="done")
    for j, (_, va) in enumerate(folds):
        present = [i for i in range(len(pool)) if have[j][i]]
        w = weights_on([f for f in range(k) if f != j], present)
        pred = blend([r.oof[va] for r in pool], w)
        out.fold_metrics.append(compute(setup.task, setup.metrics, y[va], pred, setup.threshold))
    out.folds_done = k
    w = weights_on(range(k), list(range(len(pool))))
    out.weights = {r.name: float(wi) for r, wi in zip(pool, w, strict=True) if wi > 0}
    if len(out.weights) < 2:
        return None
    members = [r for r in pool if r.name in out.weights]
    out.oof = _blend_by_fold([r.oof for r in members], np.array(list(out.weights.values())), folds)
    out.fit_seconds = sum(r.fit_seconds for r in members)
    out.predict_seconds = sum(r.predict_seconds for r in members)
    out.note = "greedy blend of " + ", ".join(f"{n} {w:.2f}" for n, w in out.weights.items())
    return out


def _blend_by_fold(preds: Sequence[np.ndarray], weights: np.ndarray, folds) -> np.ndarray:
    """Out-of-fold blend in which each fold averages the members that predicted it."""
    out = np.full_like(preds[0], np.nan, dtype=float)
    for _, va in folds:
        w = np.array([wi if np.isfinite(p[va]).all() else 0.0 for p, wi in zip(preds, weights, strict=True)])
        if w.sum() > 0:
            out[va] = blend([p[va] for p in preds], w / w.sum())
    return out


def predict(model, X: pd.DataFrame, task: str, n_classes: int | None) -> np.ndarray:
    """Scores from a fitted pipeline: P(positive), a class-probability matrix, or predictions."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = model.predict_proba(X)
    classes = np.asarray(model.classes_, dtype=int)
    full = np.zeros((len(X), n_classes))
    full[:, classes] = proba
    return full[:, 1] if task == "binary" else full


def score_columns(prefix: str, scores: np.ndarray) -> dict[str, np.ndarray]:
    """``predict``'s scores as named columns for a predictions file: one, or one per class."""
    if scores.ndim == 1:
        return {prefix: scores}
    return {f"{prefix}_{k}": scores[:, k] for k in range(scores.shape[1])}


def _set_deadline(model, deadline: float) -> None:
    est = model.named_steps["model"]
    if "deadline" in est.get_params():
        est.set_params(deadline=deadline)


def _empty_oof(n: int, setup: RaceSetup) -> np.ndarray:
    if setup.task == "multiclass":
        return np.full((n, setup.n_classes), np.nan)
    return np.full(n, np.nan)


def _subsample(idx: np.ndarray, y: np.ndarray, cap: int, rng: np.random.Generator, task: str) -> np.ndarray:
    if task == "regression":
        return np.sort(rng.choice(idx, cap, replace=False))
    from sklearn.model_selection import train_test_split

    try:
        keep, _ = train_test_split(
            idx, train_size=cap, stratify=y[idx], random_state=int(rng.integers(1 << 31))
        )
    except ValueError:  # a class too rare to stratify at this size
        keep = rng.choice(idx, cap, replace=False)
    return np.sort(keep)
