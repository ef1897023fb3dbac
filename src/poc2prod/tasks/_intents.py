"""Customer-service intents: an answer template per intent, and the known questions nearest to a
query the model is not confident about, for the person it is routed to.

The answers are the client's own editable data (a CSV of ``intent,answer``); the known questions
are the training queries with their intents, kept in the deployed bundle and indexed by TF-IDF
when the service starts (a second or so for ten thousand questions), so nothing but text and
labels is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poc2prod.errors import DataError


def load_answers(path: Path, classes: Sequence[Any]) -> tuple[dict[str, str], list[str]]:
    """The answer template per intent from the CSV at ``path`` (columns ``intent`` and ``answer``),
    and notes on intents without an answer or answers for no known intent.

    Every problem with the file itself is a :class:`DataError` naming the fix.
    """
    import pandas as pd

    if not path.is_file():
        raise DataError(f"the answers file {path} does not exist; fix `answers:` in poc2prod.yaml.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as e:
        raise DataError(f"the answers file {path} is not a readable CSV ({e}); fix the file.") from None
    missing = [c for c in ("intent", "answer") if c not in frame.columns]
    if missing:
        raise DataError(
            f"the answers file {path} has no {missing[0]!r} column; it needs the columns intent and answer."
        )
    repeated = frame["intent"][frame["intent"].duplicated()].tolist()
    if repeated:
        raise DataError(
            f"the answers file {path} gives intent {repeated[0]!r} more than one answer; "
            "keep one row per intent."
        )
    known = {str(c) for c in classes}
    answers = {i: a for i, a in zip(frame["intent"], frame["answer"], strict=True) if a.strip()}
    notes = []
    unknown = sorted(set(answers) - known)
    if unknown:
        notes.append(
            f"{len(unknown)} answer(s) name an intent the data does not have (e.g. {unknown[0]!r}); "
            "they are never returned"
        )
    without = sorted(known - set(answers))
    if without:
        notes.append(
            f"{len(without)} intent(s) have no answer (e.g. {without[0]!r}); queries the model assigns "
            "to them get no answer text"
        )
    return {i: a for i, a in answers.items() if i in known}, notes


class QuestionIndex:
    """The known questions most similar to a query, by cosine similarity of TF-IDF vectors.

    >>> index = QuestionIndex(["where is my card", "how do I top up", "my card has not arrived"],
    ...                       ["card_arrival", "top_up", "card_arrival"])
    >>> [q["intent"] for q in index.nearest(["card not arrived yet"], k=2)[0]]
    ['card_arrival', 'card_arrival']
    """

    def __init__(self, questions: Sequence[str], intents: Sequence[Any]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.questions = [str(q) for q in questions]
        self.intents = [str(i) for i in intents]
        # Character n-grams forgive typos; one in a third of all questions (of many) says little
        # about which is nearest, yet would make every lookup touch most of them.
        common = 0.3 if len(self.questions) >= 100 else 1.0
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, max_df=common
        )
        # Stored transposed (n-grams x questions, row-major): a query's few hundred n-grams then
        # pick their rows, which is what a sparse product with one query row does cheapest.
        self._by_ngram = self._vectorizer.fit_transform(self.questions).T.tocsr()

    def nearest(self, texts: Sequence[str | None], k: int = 3) -> list[list[dict[str, Any]]]:
        """Per text, the ``k`` most similar known questions with their intent and similarity."""
        queries = self._vectorizer.transform(["" if t is None else str(t) for t in texts])
        similarity = (queries @ self._by_ngram).tocsr()
        out = []
        for i in range(len(texts)):
            row = similarity.getrow(i)
            order = np.argsort(-row.data, kind="stable")[:k]
            out.append(
                [
                    {
                        "question": self.questions[j],
                        "intent": self.intents[j],
                        "similarity": round(float(v), 4),
                    }
                    for j, v in zip(row.indices[order], row.data[order], strict=True)
                ]
            )
        return out
