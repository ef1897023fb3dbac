"""Scoring a LightGBM pipeline on a float matrix, without pandas and without LightGBM's Python layer.

A served request is a row or a few. LightGBM's ``Booster.predict`` spends some 20 µs a call
checking and copying its parameters, and its matrix call (``LGBM_BoosterPredictForMat``) another
20 µs setting up a predictor, both longer than 200 trees take to score a row. So the booster is
called through its C API: a few rows one at a time through ``LGBM_BoosterPredictForMatSingleRowFast``
(its predictor is set up once), more as one matrix. That is LightGBM's stable public C interface,
reached through the library handle its Python package loads; a booster is only called that way once
both calls have given exactly what ``Booster.predict`` gives on probe rows.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_NORMAL = 0  # C_API_PREDICT_NORMAL: probabilities for classifiers, values for regression
_ROW_BY_ROW = 3  # measured: up to 3 rows, one fast call each beats one matrix call


class _Direct:
    """One booster's ``predict(X, threads)`` through the C API."""

    def __init__(self, booster):
        from lightgbm.basic import _LIB, _safe_call

        self.booster = booster  # holds the handle alive
        self._lib = _LIB
        self._check = _safe_call
        self._outputs = booster.num_model_per_iteration()  # 1, or one per class
        self._iterations = booster.best_iteration  # as Booster.predict does: 0 (all) unless it kept a best
        self._params: dict[int, ctypes.c_char_p] = {}
        self._fast: dict[int, ctypes.c_void_p] = {}  # per thread count: a row predictor set up once
        self._fast_lock = threading.Lock()  # one row predictor serves one caller at a time

    @classmethod
    def wrap(cls, booster) -> _Direct | _Python:
        """The C-API caller when it agrees with LightGBM's own ``predict``, else that ``predict``."""
        probe = np.zeros((_ROW_BY_ROW + 3, booster.num_feature()))
        probe[1] = np.nan
        probe[2:] = np.arange(probe.shape[1]) * np.arange(1, len(probe) - 1)[:, None] / 7
        try:
            direct = cls(booster)
            for rows in (probe[:1], probe):  # one row at a time, and as a matrix
                if not np.allclose(
                    direct.predict(rows, 1), booster.predict(rows, num_threads=1), rtol=0, atol=1e-12
                ):
                    return _Python(booster)
            return direct
        except (AttributeError, OSError, TypeError, ValueError, ImportError):
            return _Python(booster)  # a LightGBM whose internals moved: its own predict still works

    def predict(self, X: np.ndarray, threads: int) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        n, k = X.shape
        out = np.empty(n * self._outputs, dtype=np.float64)
        written = ctypes.c_int64()
        if n <= _ROW_BY_ROW:
            with self._fast_lock:
                fast = self._fast.get(threads) or self._row_predictor(threads, k)
                call = self._lib.LGBM_BoosterPredictForMatSingleRowFast
                step, target = X.strides[0], out.ctypes.data
                for i in range(n):
                    self._check(
                        call(
                            fast,
                            ctypes.c_void_p(X.ctypes.data + i * step),
                            ctypes.byref(written),
                            ctypes.c_void_p(target + i * self._outputs * 8),
                        )
                    )
        else:
            self._check(
                self._lib.LGBM_BoosterPredictForMat(
                    self.booster._handle,
                    X.ctypes.data_as(ctypes.c_void_p),
                    ctypes.c_int(_FLOAT64),
                    ctypes.c_int32(n),
                    ctypes.c_int32(k),
                    ctypes.c_int(1),  # row major
                    ctypes.c_int(_NORMAL),
                    ctypes.c_int(0),  # from the first iteration
                    ctypes.c_int(self._iterations),
                    self._param(threads),
                    ctypes.byref(written),
                    out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                )
            )
        return out.reshape(n, self._outputs) if self._outputs > 1 else out

    def _param(self, threads: int) -> ctypes.c_char_p:
        if threads not in self._params:
            self._params[threads] = ctypes.c_char_p(f"num_threads={threads}".encode())
        return self._params[threads]

    def _row_predictor(self, threads: int, k: int) -> ctypes.c_void_p:
        handle = ctypes.c_void_p()
        self._check(
            self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                self.booster._handle,
                ctypes.c_int(_NORMAL),
                ctypes.c_int(0),
                ctypes.c_int(self._iterations),
                ctypes.c_int(_FLOAT64),
                ctypes.c_int32(k),
                self._param(threads),
                ctypes.byref(handle),
            )
        )
        self._fast[threads] = handle
        return handle

    def __del__(self) -> None:
        for handle in getattr(self, "_fast", {}).values():
            self._lib.LGBM_FastConfigFree(handle)


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
