"""Drift metrics: hand-computed values, agreement with SciPy, and a shift found on real data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from poc2prod.monitor import reference_stats
from poc2prod.monitor._drift import chi_square, feature_drift, ks, psi
from tests.conftest import GERMAN


def test_psi_by_hand():
    # (0.3-0.2) ln(0.3/0.2) + (0.3-0.3) ln(1) + (0.4-0.5) ln(0.4/0.5)
    assert psi([0.2, 0.3, 0.5], [0.3, 0.3, 0.4]) == pytest.approx(0.1 * math.log(1.5) - 0.1 * math.log(0.8))
    assert psi([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 0.0  # an empty bin on both sides adds nothing
    assert math.isfinite(psi([1.0, 0.0], [0.0, 1.0]))  # emptied and filled bins are floored, finite


def test_ks_matches_scipy():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    ref, cur = np.sort(rng.normal(size=2000)), rng.normal(0.1, 1.0, size=5000)
    cur[:500] = np.round(cur[:500], 1)  # ties, as logged values have
    d, p = ks(ref, cur)
    expected = ks_2samp(ref, cur, method="asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-2)


def test_chi_square_by_hand():
    from scipy.stats import chi2

    # expected 20 and 20 of 40: (30-20)^2/20 + (10-20)^2/20 = 10, with 1 degree of freedom
    stat, p = chi_square({"a": 0.5, "b": 0.5}, {"a": 30, "b": 10})
    assert stat == pytest.approx(10.0)
    assert p == pytest.approx(chi2.sf(10.0, 1))
    # a category the reference never kept counts under __other__
    stat, _ = chi_square({"a": 0.5, "__other__": 0.5}, {"a": 20, "zz": 20})
    assert stat == pytest.approx(0.0)


@pytest.fixture(scope="module")
def german():
    frame = pd.read_csv(GERMAN)
    rng = np.random.default_rng(0)
    train = rng.random(len(frame)) < 0.6
    numeric = ["age_years", "credit_amount", "duration_months"]
    ref = reference_stats(frame[train], numeric, ["purpose"])
    return frame[~train], ref


def test_an_unchanged_sample_is_not_drift(german):
    later, ref = german
    for name in ["age_years", "credit_amount", "duration_months", "purpose"]:
        d = feature_drift(name, ref["features"][name], later[name].to_numpy())
        assert d.psi < 0.1, d  # the same population: stable
        assert d.p_value > 0.001, d


def test_an_injected_shift_is_found(german):
    later, ref = german
    older = feature_drift("age_years", ref["features"]["age_years"], later["age_years"].to_numpy() + 12)
    assert older.psi > 0.2 and older.p_value < 1e-6
    purposes = later["purpose"].to_numpy().copy()
    purposes[: len(purposes) // 2] = "A410"  # half the window becomes one purpose
    moved = feature_drift("purpose", ref["features"]["purpose"], purposes)
    assert moved.psi > 0.2 and moved.p_value < 1e-6
    missing = later["credit_amount"].to_numpy(dtype=float).copy()
    missing[::3] = np.nan
    gaps = feature_drift("credit_amount", ref["features"]["credit_amount"], missing)
    assert gaps.missing_rate == pytest.approx(1 / 3, abs=0.01) and gaps.reference_missing_rate == 0.0


def test_bins_of_a_sorted_window_match_bin_shares():
    from poc2prod.monitor import bin_shares
    from poc2prod.monitor._drift import _shares_sorted

    values = np.random.default_rng(1).integers(0, 10, size=5000).astype(float)  # ties on the edges
    edges = [1.0, 2.5, 5.0, 9.0]
    assert _shares_sorted(np.sort(values), edges) == pytest.approx(bin_shares(values, edges))
