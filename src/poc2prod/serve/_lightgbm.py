"""Scoring a LightGBM pipeline on a float matrix, without pandas and without LightGBM's Python layer.

A served request is a row or a few: LightGBM's ``Booster.predict`` spends some 20 µs a call
checking and copying its parameters, longer than 200 trees take to score a row, so the booster is
called through its C API (``LGBM_BoosterPredictForMat``) instead. That is LightGBM's stable public
C interface, reached through the library handle its Python package loads; a booster is only called
that way once the call has given exactly what ``Booster.predict`` gives on probe rows.
"""

from __future__ import annotations

import ctypes

import numpy as np

_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_NORMAL = 0  # C_API_PREDICT_NORMAL: probabilities for classifiers, values for regression


class _Direct:
    """One booster's ``predict(X, threads)`` through the C API."""

    def __init__(self, booster):
        from lightgbm.basic import _LIB, _safe_call

        self.booster = booster  # holds the handle alive
        self._call = _LIB.LGBM_BoosterPredictForMat
        self._check = _safe_call
        self._outputs = booster.num_model_per_iteration()  # 1, or one per class
        self._iterations = booster.best_iteration  # as Booster.predict does: 0 (all) unless it kept a best
        self._params: dict[int, ctypes.c_char_p] = {}

    @classmethod
    def wrap(cls, booster) -> _Direct | _Python:
        """The C-API caller when it agrees with LightGBM's own ``predict``, else that ``predict``."""
        probe = np.zeros((3, booster.num_feature()))
        probe[1] = np.nan
        probe[2] = np.arange(probe.shape[1])
        try:
            direct = cls(booster)
            if np.allclose(
                direct.predict(probe, 1), booster.predict(probe, num_threads=1), rtol=0, atol=1e-12
            ):
                return direct
        except (AttributeError, OSError, TypeError, ValueError, ImportError):
            pass  # a LightGBM whose internals moved: its own predict still works
        return _Python(booster)

    def predict(self, X: np.ndarray, threads: int) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        n, k = X.shape
        out = np.empty(n * self._outputs, dtype=np.float64)
        written = ctypes.c_int64()
        params = self._params.get(threads)
        if params is None:
            params = self._params[threads] = ctypes.c_char_p(f"num_threads={threads}".encode())
        self._check(
            self._call(
                self.booster._handle,
                X.ctypes.data_as(ctypes.c_void_p),
                ctypes.c_int(_FLOAT64),
                ctypes.c_int32(n),
                ctypes.c_int32(k),
                ctypes.c_int(1),  # row major
                ctypes.c_int(_NORMAL),
                ctypes.c_int(0),  # from the first iteration
                ctypes.c_int(self._iterations),
                params,
                ctypes.byref(written),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            )
        )
        return out.reshape(n, self._outputs) if self._outputs > 1 else out


class _Python:
    """One booster's ``predict(X, threads)`` through LightGBM's Python package."""

    def __init__(self, booster):
        self.booster = booster

    def predict(self, X: np.ndarray, threads: int) -> np.ndarray:
        return self.booster.predict(X, num_threads=threads)


class LightGBMPath:
    """Scores a NativeCategories → LightGBM pipeline (optionally calibrated) on a float matrix."""

    def __init__(self, boosters, codes: list[dict[str, int]], calibrator, task: str):
        self.boosters = boosters
        self.codes = codes
        self.calibrator = calibrator
        self.task = task

    @classmethod
    def compile(cls, model, numeric: list[str], categorical: list[str]) -> LightGBMPath | None:
        from sklearn.pipeline import Pipeline

        from poc2prod.learn._boosters import Booster
        from poc2prod.learn._calibrate import CalibratedModel
        from poc2prod.learn._preprocess import NativeCategories

        calibrator = None
        if isinstance(model, CalibratedModel):
            calibrator, model = model.calibrator, model.model
        if not isinstance(model, Pipeline) or [n for n, _ in model.steps] != ["prep", "model"]:
            return None
        prep, est = model.named_steps["prep"], model.named_steps["model"]
        if not (
            isinstance(prep, NativeCategories) and isinstance(est, Booster) and est.library == "lightgbm"
        ):
            return None
        if list(prep.feature_names_in_) != [*numeric, *categorical]:
            return None
        codes = [{str(v): i for i, v in enumerate(prep.dtypes_[c].categories)} for c in categorical]
        return cls([_Direct.wrap(m.booster_) for m in est.models_], codes, calibrator, est.task)

    def matrix(self, batch) -> np.ndarray:
        """The float matrix LightGBM was trained on: numbers, then category codes (NaN: missing, unseen)."""
        if not self.codes:
            return np.ascontiguousarray(batch.numbers)
        codes = [[c.get(v, np.nan) for v in texts] for c, texts in zip(self.codes, batch.texts, strict=False)]
        return np.hstack([batch.numbers, np.array(codes, dtype=np.float64).T])

    def score(self, X: np.ndarray, threads: int) -> np.ndarray:
        raw = sum(b.predict(X, threads) for b in self.boosters) / len(self.boosters)
        if self.task == "binary" and self.calibrator is not None:
            return self.calibrator.transform(raw)
        return raw

    def contributions(self, X: np.ndarray, threads: int) -> np.ndarray:
        contrib = sum(b.booster.predict(X, pred_contrib=True, num_threads=threads) for b in self.boosters)
        return (contrib / len(self.boosters))[:, :-1]  # the last column is the expected value
