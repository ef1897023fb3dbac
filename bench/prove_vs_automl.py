"""poc2prod's `prove` or `optimize` gate against FLAML and AutoGluon on the credit data sets, on one split.

    bash bench/setup_anchors.sh                          # once: each anchor's own virtualenv
    .venv/bin/python bench/prove_vs_automl.py --write    # prove: taiwan, german, bank; updates BENCHMARKS.md
    .venv/bin/python bench/prove_vs_automl.py --gate optimize --write      # optimize, the same way
    .venv/bin/python bench/prove_vs_automl.py --datasets german --anchors-only   # the anchors alone

Options: --gate (prove or optimize; default prove), --datasets (comma-separated; default
taiwan,german,bank), --budget (seconds; default 60 for prove, 300 for optimize), --seed (default 42),
--anchors-only, --write, --out (the results JSON; default bench/results/prove_vs_automl.json or
bench/results/optimize_vs_automl.json, or anchors_only.json in the gate's scratch folder, bench/work/
or bench/work/optimize/, with --anchors-only: give trial runs their own --out so they do not overwrite
the published figures). --write updates the gate's own section of BENCHMARKS.md, "## prove vs FLAML
and AutoGluon" or "## optimize vs FLAML and AutoGluon".

--gate prove: for each data set poc2prod runs first: `poc2prod init`, then `poc2prod prove --json`,
wall-clocked as a user sees it. FLAML gets time_budget=BUDGET, AutoGluon presets="medium_quality" and
time_limit=BUDGET.

--gate optimize: `poc2prod init`, then `poc2prod prove --budget 60 --json` (it freezes the holdout and
picks the model optimize starts from; its wall time and holdout ROC AUC are recorded as the "before"
figure, not timed against the anchors), then `poc2prod optimize --budget BUDGET --json`, wall-clocked
as a user sees it and checked to leave the frozen split as it was. FLAML gets time_budget=BUDGET (the
same call as for prove), AutoGluon presets="best_quality" (it bags and stacks) and time_limit=BUDGET.
The table scores optimize's model; a line per data set gives prove's "before" ROC AUC beside it and
the gain optimize reported over its baseline.

Either way the holdout poc2prod froze in .poc2prod/split.parquet (row positions in the source file as
pandas reads it; 80/20 stratified) is then given row for row to each anchor, which trains on exactly
poc2prod's training rows, without the columns poc2prod left out (its id column and dropped columns,
and at least ID for taiwan and the leaky `duration` for bank). With --anchors-only poc2prod is not run
and the split is drawn here instead (train_test_split, test_size=0.2, stratified, random_state=seed):
the anchors measured alone, never written to bench/results/ or BENCHMARKS.md.

Each anchor is a subprocess (_anchor_run.py) in its own virtualenv; its wall time is that whole
command, interpreter start and imports included, with its fit + predict time beside it. The goal is
poc2prod's holdout ROC AUC at least the better anchor's, with the gate's whole command within the
budget + 10 s. The tools run one after another, never side by side: the machine has 2 cores and every
tool uses all of them, so run this on an otherwise quiet machine (the optimize benchmark takes about
3 x (60 + 3 x 300) s, some 50 minutes). The CPU time other processes take while each tool runs is
measured, and a timing they disturbed is flagged in the output. Every holdout ROC AUC is computed by
scikit-learn from the positive class's predicted probability. Beside each margin to the best anchor
stands a paired bootstrap interval of it (both tools' scores on the same resampled holdout rows, as
poc2prod.metrics.paired_interval draws them): on German credit's 200 holdout rows a difference of
a point or two is noise, and the interval says so.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from _report import write_section
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
POC2PROD = Path(sys.executable).parent / "poc2prod"
ANCHORS = {"flaml": "FLAML", "autogluon": "AutoGluon"}
PYTHON = {tool: HERE / f".venv-{tool}" / "bin" / "python" for tool in ANCHORS}
WORK = HERE / "work"
SLACK = 10  # seconds over the budget a whole command may take and still count as within it
BOOTSTRAPS, LEVEL = 2000, 0.95  # the paired interval of poc2prod's margin over the best anchor
DISTURBED = 0.05  # share of the machine's CPU time that other processes may take before we warn

# The libraries whose versions explain a score, on each side.
OUR_LIBRARIES = (
    "poc2prod",
    "scikit-learn",
    "lightgbm",
    "xgboost",
    "xgboost-cpu",
    "catboost",
    "numpy",
    "pandas",
)
ANCHOR_LIBRARIES = {
    "flaml": ("flaml", "lightgbm", "xgboost", "scikit-learn", "numpy", "pandas"),
    "autogluon": (
        "autogluon.tabular",
        "lightgbm",
        "catboost",
        "xgboost-cpu",
        "torch",
        "fastai",
        "scikit-learn",
        "numpy",
        "pandas",
    ),
}


@dataclass(frozen=True)
class Gate:
    """What differs between benchmarking one poc2prod gate and the other; everything else is shared."""

    budget: float  # default seconds, for the gate and for each anchor
    presets: str  # AutoGluon's `presets`
    results: Path
    section: str  # its heading in BENCHMARKS.md
    reproduce: str
    work: Path  # scratch: one folder per data set, and anchors_only.json


GATES = {
    "prove": Gate(
        budget=60,
        presets="medium_quality",
        results=HERE / "results" / "prove_vs_automl.json",
        section="## prove vs FLAML and AutoGluon",
        reproduce="bash bench/setup_anchors.sh && .venv/bin/python bench/prove_vs_automl.py --write",
        work=WORK,
    ),
    "optimize": Gate(
        budget=300,
        presets="best_quality",
        results=HERE / "results" / "optimize_vs_automl.json",
        section="## optimize vs FLAML and AutoGluon",
        reproduce=(
            "bash bench/setup_anchors.sh && .venv/bin/python bench/prove_vs_automl.py --gate optimize --write"
        ),
        work=WORK / "optimize",
    ),
}
BEFORE_BUDGET = 60  # `prove --budget` before optimize: the model optimize starts from, not timed


@dataclass(frozen=True)
class Dataset:
    path: Path
    target: str
    sep: str = ","
    leave_out: tuple[str, ...] = ()  # never shown to the anchors, whatever poc2prod reports
    drop: tuple[str, ...] = ()  # `poc2prod init --drop`: leaks no tool could tell from the data


DATASETS = {
    "taiwan": Dataset(
        SHARED / "uci_default_credit_card_taiwan" / "UCI_Credit_Card.csv",
        "default.payment.next.month",
        leave_out=("ID",),
    ),
    "german": Dataset(SHARED / "uci_statlog_german_credit" / "german_credit.csv", "class"),
    # `duration` is the call's length, known only once the outcome is: a documented leak.
    "bank": Dataset(
        SHARED / "uci_bank_marketing" / "bank-additional-full.csv",
        "y",
        sep=";",
        leave_out=("duration",),
        drop=("duration",),
    ),
}


class Stopwatch:
    """Wall time of what runs inside it, and the CPU time every other process took meanwhile.

    Each tool uses both cores, so CPU used by anything else while it runs is taken from it, and
    OpenMP libraries (LightGBM, XGBoost) can slow down a hundredfold when they have to share cores.
    Ours is this process and its children, grandchildren included: this process is made the
    "subreaper" of everything it starts (Linux prctl), so daemons a tool leaves behind when it
    forks (AutoGluon's Ray workers) are reaped here and their CPU time counted as the tool's,
    not as another process's. The rest, read from /proc/stat, is the others'.
    """

    def __enter__(self) -> Stopwatch:
        self.started, self._busy, self._ours = time.monotonic(), _busy_seconds(), _our_cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.monotonic() - self.started
        _reap_orphans()
        ours = _our_cpu_seconds() - self._ours
        self.others = max(0.0, _busy_seconds() - self._busy - ours)

    def disturbed(self) -> bool:
        return self.others > DISTURBED * self.wall * len(os.sched_getaffinity(0))


def _become_subreaper() -> None:
    """Orphaned descendants (daemonised workers) become our children rather than init's."""
    import ctypes

    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _reap_orphans(grace: float = 15.0) -> None:
    """Collect the descendants a tool left behind, so their CPU time joins ours (os.times): wait up to
    ``grace`` seconds for them to exit, then stop the stragglers (a tool's daemons outliving it)."""
    import signal

    deadline = time.monotonic() + grace
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        left = _children()
        if not left:
            return
        if time.monotonic() > deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            deadline = float("inf")  # now only wait for the killed to be reaped
        time.sleep(0.1)


def _children() -> list[int]:
    """Live processes whose parent is this one (orphans reparented here included)."""
    me, out = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == me and fields[0] != "Z":
                out.append(int(stat.parent.name))
    return out


def _busy_seconds() -> float:
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def _our_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run(cmd: list, what: str, timeout: float | None = None) -> str:
    """Run ``cmd`` and return its stdout; stop the benchmark with its stderr if it fails."""
    try:
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"{what} was stopped after {timeout:.0f} s: stuck, not merely late.")
    if proc.returncode:
        sys.exit(f"{what} failed with exit status {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc.stdout


def init_project(ds: Dataset, work: Path) -> Path:
    proj = work / "proj"
    init = [POC2PROD, "init", proj, "--data", ds.path, "--target", ds.target]
    for col in ds.drop:
        init += ["--drop", col]
    run(init, "poc2prod init")
    return proj


def run_gate(gate: str, proj: Path, budget: float, seed: int) -> tuple[dict, Stopwatch]:
    """``poc2prod GATE --json`` on the project, wall-clocked as a user sees it; its JSON and the clock."""
    cmd = [POC2PROD, gate, "-C", proj, "--budget", f"{budget:g}", "--json"]
    if gate == "prove":
        cmd += ["--seed", seed, "--quiet"]
    with Stopwatch() as clock:
        out = run(cmd, f"poc2prod {gate}", timeout=stuck_after(budget))
    return json.loads(out), clock


def frozen_split(proj: Path) -> pd.DataFrame:
    return pd.read_parquet(proj / ".poc2prod" / "split.parquet")


def own_split(frame: pd.DataFrame, target: str, seed: int) -> pd.DataFrame:
    """The split poc2prod would freeze, drawn here: for measuring the anchors without poc2prod."""
    train, holdout = train_test_split(
        np.arange(len(frame)), test_size=0.2, stratify=frame[target], random_state=seed
    )
    return pd.DataFrame(
        {"row": np.concatenate([train, holdout]), "part": ["train"] * len(train) + ["holdout"] * len(holdout)}
    )


def write_parts(
    frame: pd.DataFrame, split: pd.DataFrame, leave_out: list[str], work: Path
) -> tuple[Path, Path]:
    rows = {part: split.loc[split["part"] == part, "row"].to_numpy() for part in ("train", "holdout")}
    overlap = np.intersect1d(rows["train"], rows["holdout"]).size
    if overlap or max(r.max() for r in rows.values()) >= len(frame):
        sys.exit("split.parquet does not describe the source file: overlapping or out-of-range rows.")
    data = frame.drop(columns=leave_out)
    paths = work / "train.parquet", work / "holdout.parquet"
    for path, part in zip(paths, ("train", "holdout"), strict=True):
        data.iloc[rows[part]].reset_index(drop=True).to_parquet(path, index=False)
    return paths


def class_in(frame: pd.DataFrame, target: str, positive) -> str:
    """``positive`` as the anchors will see it (text), checked against the target's actual values."""
    values = {str(v) for v in frame[target].dropna().unique()}
    if str(positive) in values:
        return str(positive)
    sys.exit(f"positive class {positive!r} is none of {target}'s values {sorted(values)}.")


def stuck_after(budget: float) -> float:
    # Generous: past this a tool is not late but stuck, and the rest of the benchmark must go on.
    return 4 * budget + 300


def run_anchor(
    tool: str, train: Path, holdout: Path, target: str, positive: str, budget: float, seed: int, presets: str
) -> dict:
    out, log = train.parent / f"{tool}.json", train.parent / f"{tool}.log"
    given = [tool, train, holdout, target, positive, budget, seed, out, presets]
    cmd = [PYTHON[tool], HERE / "_anchor_run.py", *given]
    with Stopwatch() as clock, open(log, "w") as f:
        try:
            code = subprocess.run(
                [str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT, timeout=stuck_after(budget)
            ).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    if code:
        tail = log.read_text()[-2000:]
        print(f"  {ANCHORS[tool]} failed ({code}); end of {log}:\n{tail}", file=sys.stderr)
        return {"error": f"failed ({code}); see {log}", "clock": clock}
    return {**json.loads(out.read_text()), "clock": clock}


def machine() -> dict:
    with open("/proc/meminfo") as f:
        ram_kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "ram_gib": round(ram_kib / 2**20, 1),
        "cpu": cpu or platform.processor(),
        "os": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def our_versions() -> dict:
    found = {"python": platform.python_version()}
    for name in OUR_LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def anchor_versions(tool: str) -> dict:
    """The anchor venv's Python and libraries, and every package in it (the exact environment)."""
    probe = (
        "import json, platform; from importlib import metadata; "
        "print(json.dumps({'python': platform.python_version(), 'packages': "
        "{d.metadata['Name'].lower(): d.version for d in metadata.distributions()}}))"
    )
    found = json.loads(run([PYTHON[tool], "-c", probe], f"{tool} version probe"))
    packages = dict(sorted(found["packages"].items()))
    key = {name: packages[name] for name in ANCHOR_LIBRARIES[tool] if name in packages}
    return {"python": found["python"], **key, "all_packages": packages}


def verdict(rows: list[dict], scores: dict[str, np.ndarray], y: np.ndarray, seed: int) -> dict | None:
    """Whether poc2prod's holdout ROC AUC is at least the better anchor's, on one data set, with a
    paired bootstrap interval of the difference: how much of the margin the holdout's size can tell."""
    from poc2prod.metrics import paired_interval

    ours = next((r for r in rows if r["tool"] == "poc2prod"), None)
    anchors = [r for r in rows if r["tool"] != "poc2prod" and r["roc_auc"] is not None]
    if ours is None or not anchors:
        return None
    best = max(anchors, key=lambda r: r["roc_auc"])
    margin = ours["roc_auc"] - best["roc_auc"]
    low, high = paired_interval(
        "roc_auc", y, scores[best["tool"]], scores["poc2prod"], n_boot=BOOTSTRAPS, level=LEVEL, seed=seed
    )
    return {
        "poc2prod": ours["roc_auc"],
        "best_anchor": best["roc_auc"],
        "margin": margin,
        "interval": [low, high],
        "within_budget": ours["within_budget"],
        "met": margin >= 0 and ours["within_budget"],
    }


def _interval(v: dict) -> str:
    if "interval" not in v:  # results written before the interval was measured
        return ""
    low, high = v["interval"]
    return f"; {LEVEL:.0%} interval [{low:+.4f}, {high:+.4f}]"


def table(rows: list[dict], verdicts: dict) -> str:
    lines = [
        "| data set | rows | tool | holdout ROC AUC | wall s | in-process s | within budget + 10 s "
        "| best model | poc2prod ≥ best anchor |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in rows:
        auc = f"{r['roc_auc']:.4f}" if r["roc_auc"] is not None else "failed"
        inner = f"{r['inner_seconds']:.1f}" if r["inner_seconds"] is not None else ""
        v = verdicts.get(r["dataset"]) if r["tool"] == "poc2prod" else None
        met = f"{'yes' if v['margin'] >= 0 else 'NO'} ({v['margin']:+.4f})" if v else ""
        lines.append(
            f"| {r['dataset']} | {r['rows']:,} | {r['tool']} | {auc} | {r['wall_seconds']:.1f} | {inner} | "
            f"{'yes' if r['within_budget'] else 'NO'} | {r['best'] or ''} | {met} |"
        )
    return "\n".join(lines)


def describe(meta: dict) -> str:
    m, v = meta["machine"], meta["versions"]

    def libs(side: dict) -> str:
        return ", ".join(f"{k} {x}" for k, x in side.items() if k not in ("python", "all_packages"))

    return "\n".join(
        [
            f"Measured {meta['date']} on {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, {m['os']}; "
            f"load average {m['load_average_at_start'][0]} at the start; budget {meta['budget']:g} s for "
            f"every tool, seed {meta['seed']}, one tool at a time.",
            "",
            f"- poc2prod (.venv): Python {v['poc2prod']['python']}; {libs(v['poc2prod'])}",
            f"- FLAML (bench/.venv-flaml): Python {v['flaml']['python']}; {libs(v['flaml'])}",
            f"- AutoGluon (bench/.venv-autogluon): Python {v['autogluon']['python']}; {libs(v['autogluon'])}",
        ]
    )


def how_optimize(meta: dict) -> str:
    budget, presets = meta["budget"], meta.get("autogluon_presets", GATES["optimize"].presets)
    ours = (
        f"poc2prod ran `prove --budget {meta.get('before_budget', BEFORE_BUDGET):g}` first (it froze the "
        f"holdout and chose the model optimize starts from; not timed against the anchors), then "
        f"`optimize --budget {budget:g}`, the command timed here. "
        if meta["split"] == "poc2prod"
        else ""
    )
    return (
        f'{ours}FLAML ran with time_budget={budget:g}, AutoGluon with presets="{presets}" and '
        f"time_limit={budget:g} (it bags and stacks its models), each as its documentation shows."
    )


def before_after(r: dict) -> str:
    """One data set's line: prove's holdout ROC AUC, then optimize's, and the gain optimize reported."""
    b, gain = r["before"], r.get("gain") or {}
    line = (
        f"- {r['dataset']}: prove {b['roc_auc']:.4f} ({b['model']}, {b['wall_seconds']:.1f} s) → "
        f"optimize {r['roc_auc']:.4f} ({r['best']}, {r['wall_seconds']:.1f} s): "
        f"{r['roc_auc'] - b['roc_auc']:+.4f}"
    )
    if {"metric", "value", "low", "high"} <= gain.keys():
        line += (
            f"; optimize reported a {gain['metric']} gain of {gain['value']:+.4f} "
            f"[{gain['low']:+.4f}, {gain['high']:+.4f}] over its baseline"
        )
    if r.get("trials") is not None:
        line += f" in {r['trials']} trials"
    return line


def section(meta: dict, rows: list[dict], verdicts: dict) -> str:
    failed = [
        f"- {r['dataset']}, {r['tool']}: {model} failed ({why})"
        for r in rows
        for model, why in (r.get("failed_models") or {}).items()
    ]
    disturbed = [
        f"- {r['dataset']}, {r['tool']}: {r['others_cpu_seconds']:.0f} CPU s in {r['wall_seconds']:.0f} s"
        for r in rows
        if r["disturbed"]
    ]
    met = [
        f"- {name}: poc2prod {v['poc2prod']:.4f} vs best anchor {v['best_anchor']:.4f} "
        f"({v['margin']:+.4f}{_interval(v)}), {'within' if v['within_budget'] else 'OVER'} the budget "
        f"+ 10 s: {'met' if v['met'] else 'NOT met'}"
        for name, v in verdicts.items()
        if v
    ]
    split = (
        "exactly the training rows poc2prod kept and is scored on the same holdout rows (poc2prod's "
        "frozen 80/20 stratified split), without the columns poc2prod left out"
        if meta["split"] == "poc2prod"
        else "an 80/20 stratified split drawn by this script (--anchors-only: poc2prod did not run)"
    )
    gate = GATES[meta.get("gate", "prove")]  # results written before --gate existed are prove's
    parts = [
        gate.section,
        f"Reproduce: `{gate.reproduce}` (how it works: the docstring of bench/prove_vs_automl.py).",
        describe(meta),
    ]
    if meta.get("gate") == "optimize":
        parts.append(how_optimize(meta))
    parts += [
        f"Each anchor trains on {split}. Wall time is the whole command as a user runs it, "
        "interpreter start and imports included; in-process time is poc2prod's own gate clock and "
        "the anchors' fit + predict.",
        table(rows, verdicts),
    ]
    if before := [before_after(r) for r in rows if r.get("before")]:
        parts.append(
            f"Before: `prove --budget {meta.get('before_budget', BEFORE_BUDGET):g}` on the same holdout, "
            "the model optimize started from (its wall time is not part of optimize's), and what optimize "
            "made of it:\n\n" + "\n".join(before)
        )
    if met:
        parts.append(
            "Target: poc2prod's holdout ROC AUC at least the better anchor's, within the budget + 10 s. "
            f"In brackets, a {LEVEL:.0%} paired bootstrap interval of the difference ({BOOTSTRAPS:,} "
            "resamples of the holdout rows, both tools scored on each): an interval that spans zero "
            "means this holdout is too small to tell the two apart.\n\n" + "\n".join(met)
        )
    if failed:
        parts.append("AutoGluon models that failed (the anchor ran without them):\n\n" + "\n".join(failed))
    if disturbed:
        parts.append(
            "Not a fair measurement: other processes took a share of the CPU while these ran "
            "(rerun on a quiet machine):\n\n" + "\n".join(disturbed)
        )
    return "\n\n".join(parts)


def benchmark(name: str, args: argparse.Namespace) -> tuple[list[dict], dict[str, np.ndarray], np.ndarray]:
    """One data set: its result rows, each tool's holdout scores (row for row) and the holdout's labels."""
    ds, gate = DATASETS[name], GATES[args.gate]
    work = gate.work / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    frame = pd.read_csv(ds.path, sep=ds.sep)
    leave_out = list(ds.leave_out)
    rows = []

    def row(tool: str, auc, clock: Stopwatch, inner, best, **extra) -> dict:
        if clock.disturbed():
            print(
                f"  warning: other processes took {clock.others:.0f} CPU s during {tool}'s "
                f"{clock.wall:.0f} s: its timing, and so its score, are not fair.",
                file=sys.stderr,
            )
        return {
            "dataset": name,
            "rows": len(frame),
            "tool": tool,
            "roc_auc": auc,
            "wall_seconds": clock.wall,
            "inner_seconds": inner,
            "within_budget": auc is not None and clock.wall <= args.budget + SLACK,
            "best": best,
            "others_cpu_seconds": clock.others,
            "disturbed": clock.disturbed(),
            **extra,
        }

    if args.anchors_only:
        split = own_split(frame, ds.target, args.seed)
        positive = frame[ds.target].value_counts().idxmin()  # the rarer class, as poc2prod picks it
    else:
        proj = init_project(ds, work)
        prove_budget = args.budget if args.gate == "prove" else BEFORE_BUDGET
        print(f"[{name}] poc2prod prove --budget {prove_budget:g}", flush=True)
        doc, clock = run_gate("prove", proj, prove_budget, args.seed)
        split = frozen_split(proj)
        data = doc.get("data", {})
        reported = [data.get("id_column"), *data.get("dropped_columns", [])]
        leave_out += [c for c in reported if c and c in frame.columns and c not in leave_out]
        positive = doc["positive_class"]
        if "holdout_rows" in data and data["holdout_rows"] != (split["part"] == "holdout").sum():
            sys.exit(f"{name}: split.parquet's holdout disagrees with the holdout_rows prove reported.")
        if args.gate == "prove":
            rows.append(
                row(
                    "poc2prod",
                    doc["best"]["holdout"]["roc_auc"],
                    clock,
                    doc.get("elapsed_seconds"),
                    doc["best"]["model"],
                    verdict=doc["verdict"],
                    run_id=doc["run_id"],
                )
            )
        else:
            before = {
                "budget": prove_budget,
                "roc_auc": doc["best"]["holdout"]["roc_auc"],
                "model": doc["best"]["model"],
                "wall_seconds": clock.wall,
                "inner_seconds": doc.get("elapsed_seconds"),
                "others_cpu_seconds": clock.others,
                "disturbed": clock.disturbed(),
                "verdict": doc["verdict"],
                "run_id": doc["run_id"],
            }
            print(f"[{name}] poc2prod optimize --budget {args.budget:g}", flush=True)
            doc, clock = run_gate("optimize", proj, args.budget, args.seed)
            if not frozen_split(proj).equals(split):
                sys.exit(f"{name}: optimize changed split.parquet, so the anchors' holdout is not its own.")
            opt = doc["optimized"]
            rows.append(
                row(
                    "poc2prod",
                    opt["holdout"]["roc_auc"],
                    clock,
                    doc.get("elapsed_seconds"),
                    opt["model"],
                    before=before,
                    baseline=doc.get("baseline"),
                    gain=doc.get("gain"),
                    trials=doc.get("trials"),
                    cv=opt.get("cv"),
                    run_id=doc.get("run_id"),
                )
            )
    positive = class_in(frame, ds.target, positive)
    train, holdout = write_parts(frame, split, leave_out, work)
    y = (pd.read_parquet(holdout, columns=[ds.target])[ds.target].astype(str) == positive).to_numpy()
    scores: dict[str, np.ndarray] = {}
    if not args.anchors_only:
        scores["poc2prod"] = our_scores(proj, args.gate, y, name)
    for tool, label in ANCHORS.items():
        preset = f", presets {gate.presets}" if tool == "autogluon" else ""
        print(f"[{name}] {label}, time budget {args.budget:g} s{preset}", flush=True)
        r = run_anchor(tool, train, holdout, ds.target, positive, args.budget, args.seed, gate.presets)
        if "scores" in r:
            scores[label] = np.asarray(r["scores"])
        kept = ("error", "fit_seconds", "presets", "models", "failed_models")
        rows.append(
            row(
                label,
                r.get("roc_auc"),
                r["clock"],
                r.get("fit_predict_seconds"),
                r.get("best"),
                **{k: r[k] for k in kept if k in r},
            )
        )
    for r in rows:
        r.update(positive_class=positive, left_out=leave_out)
    return rows, scores, y


def our_scores(proj: Path, gate: str, y: np.ndarray, name: str) -> np.ndarray:
    """poc2prod's holdout scores as the gate stored them, checked to be the anchors' holdout rows."""
    stored = pd.read_parquet(proj / ".poc2prod" / gate / "holdout.parquet")
    if not np.array_equal(stored["y"].to_numpy().astype(bool), y):
        sys.exit(f"{name}: the {gate} run's stored holdout labels are not the anchors' holdout, row for row.")
    return stored["score" if gate == "prove" else "optimized"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gate", choices=list(GATES), default="prove", help="the poc2prod gate to benchmark")
    parser.add_argument("--datasets", default="taiwan,german,bank")
    parser.add_argument("--budget", type=float, help="seconds (default: 60 for prove, 300 for optimize)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--anchors-only", action="store_true", help="skip poc2prod; draw the split here")
    parser.add_argument("--write", action="store_true", help="update the section in BENCHMARKS.md")
    parser.add_argument("--out", type=Path, help="results JSON (default: bench/results/GATE_vs_automl.json)")
    args = parser.parse_args()
    _become_subreaper()
    gate = GATES[args.gate]
    if args.budget is None:
        args.budget = gate.budget
    names = args.datasets.split(",")
    if unknown := [n for n in names if n not in DATASETS]:
        parser.error(f"unknown data sets {unknown}; choose among {list(DATASETS)}")
    if args.write and args.anchors_only:
        parser.error("--write records poc2prod against the anchors; it cannot go with --anchors-only")
    if missing := [str(p) for p in PYTHON.values() if not p.exists()]:
        sys.exit(f"missing {', '.join(missing)}: run `bash bench/setup_anchors.sh` first.")
    if not args.anchors_only and not POC2PROD.exists():
        sys.exit(f"no {POC2PROD}: run this with the project's .venv/bin/python, or use --anchors-only.")

    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "gate": args.gate,
        "budget": args.budget,
        "seed": args.seed,
        "split": "own" if args.anchors_only else "poc2prod",
        "autogluon_presets": gate.presets,
        "machine": machine(),
        "versions": {"poc2prod": our_versions(), **{t: anchor_versions(t) for t in ANCHORS}},
    }
    if args.gate == "optimize" and not args.anchors_only:
        meta["before_budget"] = BEFORE_BUDGET
    results = args.out or (gate.work / "anchors_only.json" if args.anchors_only else gate.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    verdicts: dict = {}
    for name in names:
        done, scores, y = benchmark(name, args)
        rows += done
        verdicts[name] = verdict(done, scores, y, args.seed)
        print(table(done, verdicts), flush=True)
        # Written after every data set: what was measured survives a failure on the next one.
        results.write_text(json.dumps({"meta": meta, "rows": rows, "verdicts": verdicts}, indent=2) + "\n")
    text = section(meta, rows, verdicts)
    print(f"\n{text}\n\nresults: {results}")
    if args.write:
        write_section(text, gate.section)


if __name__ == "__main__":
    main()
