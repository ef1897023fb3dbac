"""A helper process of ``optimize --workers N``: started by the gate itself, never by a user."""

import sys

from poc2prod.gates._optimize import work

if __name__ == "__main__":
    root, study, stop, until, n_jobs, seed, trials = sys.argv[1:8]
    work(root, study, stop, float(until), int(n_jobs), int(seed), int(trials) or None)
