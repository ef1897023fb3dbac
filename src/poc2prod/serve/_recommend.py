"""The recommendation predictor: a deployed recommender behind the service's small interface.

It answers "the top k for these users", leaving out what each user already had when the model
was fitted *and* what she bought since (purchases reported to ``POST /feedback``, kept in memory
and read back from the feedback log when a service starts, so a restart forgets none), and it
checks the requests and feedback a client sends, each mistake worded as one sentence.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poc2prod.serve._predictor import describe
from poc2prod.store._registry import Bundle

if TYPE_CHECKING:
    from poc2prod.recommend._deployed import Answer

EVENTS = ("purchase", "click")
MAX_USERS = 1000  # users per batch request: a larger job belongs to `poc2prod score`
MAX_K = 1000
_DEPTH = 50  # items kept per user ahead of requests: k = 10 with up to 40 later purchases skipped


class RequestError(ValueError):
    """A request or feedback a client got wrong; the message says what and how to fix it."""


class RecommendPredictor:
    """Serve one deployed recommender version: ``recommend`` for users, ``record`` their purchases."""

    task = "recommend"

    def __init__(self, bundle: Bundle, threads: int = 1):
        s = bundle.settings
        self.name, self.version = bundle.name, bundle.version
        self.scenario = "recommend"
        self.model = bundle.model
        self.k = int(s["k"])
        self.threads = threads
        self.settings = s
        self.reference = bundle.reference
        self.bought: dict[str, set[int]] = defaultdict(set)  # purchases reported since the fit

    def warm(self) -> None:
        """Compute every known user's list ahead (a request is then a lookup; 4,334 users took about
        a second), and pay the first call's one-off costs before the first client does."""
        self.model.precompute(depth=max(_DEPTH, 5 * self.k))
        self.model.recommend([self.model.users[0], "\0unknown"], self.k)

    def recommend(self, users: list[str], k: int) -> list[Answer]:
        """Each user's top ``k``, items she had at the fit or bought since left out."""
        return self.model.recommend(users, k, exclude=self.bought)

    def to_json(self, answer: Answer, k: int, explain: bool = False) -> dict[str, Any]:
        """The first ``k`` items of an answer as the service returns it: ``user``, ``known`` (False:
        the popular list, for a user with no history) and ``items`` (``item``, ``name``,
        ``score``; ``reasons`` with ``explain``)."""
        chosen = answer.items[:k]
        reasons = self.model.reasons(answer.user, chosen) if explain else None
        items = [
            {
                "item": self.model.items[j],
                "name": self.model.name(j),
                "score": round(s, 6) if math.isfinite(s) else None,
                **({"reasons": reasons[n]} if reasons is not None else {}),
            }
            for n, (j, s) in enumerate(zip(chosen.tolist(), answer.scores[:k].tolist(), strict=True))
        ]
        return {"user": answer.user, "known": answer.known, "items": items}

    def log_items(self, answer: Answer, k: int) -> list[str]:
        """The item ids of an answer's first ``k``, as the prediction log keeps them."""
        return [self.model.items[j] for j in answer.items[:k].tolist()]

    def remember(self, user: str, item: str) -> None:
        """A purchase reported after the fit: never recommend that item to that user again."""
        column = self.model.column(item)
        if column is not None:
            self.bought[str(user)].add(column)

    def replay(self, folder: Path | None) -> int:
        """Re-read the purchases in the feedback log (a restarted service forgets none); how many."""
        if folder is None:
            return 0
        from poc2prod.store._predlog import read_log

        n = 0
        for record in read_log(Path(folder), "feedback"):
            if record.get("event") == "purchase" and "user" in record:
                self.remember(record["user"], record["item"])
                n += 1
        return n

    # -- checking what clients send ------------------------------------------------------------

    def k_of(self, value: Any) -> int:
        """The ``k`` of a request (the spec's when absent)."""
        if value is None:
            return self.k
        if isinstance(value, str) and re.fullmatch(r"[0-9]{1,4}", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
            raise RequestError(f"k must be a whole number from 1 to {MAX_K}, not {describe(value)}")
        return value

    @staticmethod
    def users_of(doc: Any) -> list[str]:
        """The users of a batch request ``{"users": [...], "k": 10}``."""
        users = doc.get("users") if isinstance(doc, dict) else None
        if not isinstance(users, list) or not users:
            raise RequestError('expected {"users": ["12347", ...], "k": 10}: a non-empty list of user ids')
        if len(users) > MAX_USERS:
            raise RequestError(
                f"{len(users):,} users in one request; send at most {MAX_USERS:,} "
                "(or score them all with `poc2prod score`)"
            )
        for i, u in enumerate(users):
            if isinstance(u, bool) or not isinstance(u, str | int) or (isinstance(u, str) and not u.strip()):
                raise RequestError(
                    f"users[{i}] must be a user id (text or a whole number), not {describe(u)}"
                )
        return [str(u) for u in users]

    def feedback_of(self, i: int, item: Any) -> dict[str, Any]:
        """One feedback event checked: ``{"user": ..., "item": ..., "event": "purchase"}``."""
        if not isinstance(item, dict):
            raise RequestError(f'feedback {i}: expected {{"user": ..., "item": ..., "event": "purchase"}}')
        out: dict[str, Any] = {}
        for field in ("user", "item"):
            v = item.get(field)
            if isinstance(v, bool) or not isinstance(v, str | int) or (isinstance(v, str) and not v.strip()):
                raise RequestError(
                    f"feedback {i}: {field} must be an id (text or a whole number), not {describe(v)}"
                )
            out[field] = str(v)
        event = item.get("event", "purchase")
        if event not in EVENTS:
            raise RequestError(
                f"feedback {i}: event must be one of {', '.join(EVENTS)}, not {describe(event)}"
            )
        out["event"] = event
        if isinstance(item.get("request_id"), str):
            out["request_id"] = item["request_id"]
        out["known_item"] = self.model.column(out["item"]) is not None
        return out

    def openapi(self) -> dict[str, Any]:
        """An OpenAPI 3.1 document for the recommendation endpoints."""
        from poc2prod.serve._openapi import recommend_document

        return recommend_document(self)

    def example_user(self) -> str:
        """A user the model knows, for the documentation's examples."""
        return str(self.model.users[0])
