"""Learning: candidates, features, preprocessing, the budgeted race, tuning, ensembling and calibration."""

from poc2prod.learn._candidates import CANDIDATES, Candidate, Context, candidate_names, get_candidate
from poc2prod.learn._ensemble import WeightedEnsemble, blend, greedy_weights
from poc2prod.learn._features import FeatureEngineer, FeaturePlan, possible_plan
from poc2prod.learn._race import CandidateResult, RaceSetup, cross_validate, ensemble, predict, race
from poc2prod.learn._recipe import Recipe

__all__ = [
    "CANDIDATES",
    "Candidate",
    "CandidateResult",
    "Context",
    "FeatureEngineer",
    "FeaturePlan",
    "RaceSetup",
    "Recipe",
    "WeightedEnsemble",
    "blend",
    "candidate_names",
    "cross_validate",
    "ensemble",
    "get_candidate",
    "greedy_weights",
    "possible_plan",
    "predict",
    "race",
]
