"""Learning: candidate models, per-family preprocessing, the budgeted race and ensembling."""

from poc2prod.learn._candidates import CANDIDATES, Candidate, Context, candidate_names, get_candidate
from poc2prod.learn._ensemble import WeightedEnsemble, blend, greedy_weights
from poc2prod.learn._race import CandidateResult, RaceSetup, ensemble, predict, race

__all__ = [
    "CANDIDATES",
    "Candidate",
    "CandidateResult",
    "Context",
    "RaceSetup",
    "WeightedEnsemble",
    "blend",
    "candidate_names",
    "ensemble",
    "get_candidate",
    "greedy_weights",
    "predict",
    "race",
]
