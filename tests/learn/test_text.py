"""Text as model input, on BANKING77: TF-IDF with a tempered linear SVM, and sentence embeddings
from the model the embeddings extra ships (loaded with no network)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poc2prod.learn import Context, get_candidate
from tests.conftest import SHARED

BANKING = SHARED / "banking77"


@pytest.fixture(scope="module")
def banking():
    train = pd.read_csv(BANKING / "train.csv").sample(3000, random_state=0)
    test = pd.read_csv(BANKING / "test.csv").sample(1000, random_state=0)
    classes = sorted(train["category"].unique())
    code = {c: i for i, c in enumerate(classes)}
    return (
        train[["text"]],
        train["category"].map(code).to_numpy(),
        test[["text"]],
        test["category"].map(code).fillna(-1).to_numpy(int),
    )


def _ctx(**params) -> Context:
    return Context(task="multiclass", numeric=[], categorical=[], texts=["text"], params=params)


def test_tempered_svm_is_accurate_and_its_probabilities_are_calibrated(banking):
    from sklearn.metrics import log_loss

    X, y, Xt, yt = banking
    model = get_candidate("tfidf_svm").build(_ctx()).fit(X, y)
    seen = yt >= 0
    proba = model.predict_proba(Xt[seen])
    accuracy = float((model.classes_[proba.argmax(axis=1)] == yt[seen]).mean())
    assert accuracy > 0.8
    svm = model.named_steps["model"]
    assert 0 < svm.temperature_ < 1  # a linear SVM's margins are too timid as logits: T sharpens
    # The fitted temperature beats the untempered softmax on rows it never saw.
    from scipy.special import softmax

    raw = softmax(svm.decision_function(model[:-1].transform(Xt[seen])), axis=1)
    labels = np.arange(len(model.classes_))
    cols = np.searchsorted(model.classes_, yt[seen])
    assert log_loss(cols, proba, labels=labels) < log_loss(cols, raw, labels=labels)


def test_missing_texts_are_empty_texts_not_errors(banking):
    X, y, _, _ = banking
    model = get_candidate("tfidf_svm").build(_ctx()).fit(X, y)
    proba = model.predict_proba(pd.DataFrame({"text": [None, float("nan"), "card"]}))
    assert proba.shape == (3, len(model.classes_)) and np.allclose(proba.sum(axis=1), 1)


def test_tfidf_lengths_come_from_the_tuned_parameters(banking):
    X, y, _, _ = banking
    short = get_candidate("tfidf_svm").build(_ctx(word_ngrams=1, char_max=3)).fit(X, y)
    long = get_candidate("tfidf_svm").build(_ctx(word_ngrams=3, char_max=6)).fit(X, y)
    width = lambda m: m.named_steps["prep"].transform(X.head(2)).shape[1]  # noqa: E731
    assert width(short) < width(long)


def test_sentence_embeddings_load_offline_and_are_cached(banking, monkeypatch):
    from poc2prod.learn import _text

    if not _text.embeddings_available():
        pytest.skip("the embeddings extra is not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = np.asarray(["my card has not arrived", "how do I top up", "my card has not arrived"], object)
    vectors = _text.SentenceEncoder().fit(texts).transform(texts)
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert np.array_equal(vectors[0], vectors[2])
    # Similar requests lie closer than unrelated ones.
    other = _text.SentenceEncoder().transform(np.asarray(["my new card still isn't here"], object))[0]
    assert other @ vectors[0] > other @ vectors[1]
    assert "how do I top up" in _text._VECTORS


def test_embedding_candidate_learns_intents(banking):
    from poc2prod.learn import _text

    if not _text.embeddings_available():
        pytest.skip("the embeddings extra is not installed")
    X, y, Xt, yt = banking
    ctx = _ctx()
    assert get_candidate("embedding_logistic").warm(X, ctx, 600.0) is None
    model = get_candidate("embedding_logistic").build(ctx).fit(X.head(1500), y[:1500])
    seen = np.isin(yt, model.classes_)
    accuracy = float((model.predict(Xt[seen]) == yt[seen]).mean())
    assert accuracy > 0.75
    # No time to embed every text: the candidate says so instead of starting.
    fresh = pd.DataFrame({"text": [f"never seen query number {i}" for i in range(600)]})
    why = get_candidate("embedding_logistic").warm(fresh, ctx, 0.001)
    assert why and "its share of the budget" in why


def test_a_full_embedding_cache_is_emptied_without_losing_the_texts_in_hand(monkeypatch):
    """When new texts overflow the cache it is emptied; texts of the same call that were cached
    before must still come back (they once raised KeyError)."""
    from poc2prod.learn import _text

    if not _text.embeddings_available():
        pytest.skip("the embeddings extra is not installed")
    monkeypatch.setattr(_text, "_CACHE_LIMIT", 2)
    monkeypatch.setattr(_text, "_VECTORS", {})
    encoder = _text.SentenceEncoder()
    first = encoder.transform(np.asarray(["my card is lost", "top up failed"], object))
    both = encoder.transform(np.asarray(["my card is lost", "where is my refund"], object))
    assert np.array_equal(both[0], first[0]) and both.shape == (2, 384)
    assert set(_text._VECTORS) == {"where is my refund"}  # emptied, then only the new text kept
