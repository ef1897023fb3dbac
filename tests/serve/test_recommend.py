"""The recommendation service's own parts on a small real slice of the retail log: concurrent
requests share one model call, every list is logged before it is answered, and what clients send
is checked."""

from __future__ import annotations

import asyncio

import httpx2 as httpx  # what starlette's own test client uses here
import pytest

from poc2prod.recommend import Interactions, ItemKNN
from poc2prod.recommend._deployed import DeployedRecommender
from poc2prod.serve import ServiceConfig, create_app
from poc2prod.serve._recommend import RecommendPredictor, RequestError
from poc2prod.store._predlog import read_log
from poc2prod.store._registry import Bundle


@pytest.fixture(scope="module")
def predictor(cleaned):
    frame = cleaned[0].head(20_000)
    model = DeployedRecommender(ItemKNN(), Interactions.from_frame(frame))
    return RecommendPredictor(Bundle("shop", 3, model, {"task": "recommend", "k": 10}, {}, {}))


def test_concurrent_requests_share_one_model_call_and_are_logged_first(predictor, tmp_path, monkeypatch):
    calls = []
    recommend = predictor.recommend
    monkeypatch.setattr(
        predictor, "recommend", lambda users, k: calls.append(len(users)) or recommend(users, k)
    )
    app = create_app(predictor, ServiceConfig(log_folder=str(tmp_path)))
    users = [str(u) for u in predictor.model.users[:20]]

    async def run():
        await app.startup()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers = await asyncio.gather(
                *(client.get(f"/recommend/{u}?k={1 + i % 5}") for i, u in enumerate(users))
            )
        await app.shutdown()
        return answers

    calls.clear()  # start-up's warm-up call does not count
    answers = asyncio.run(run())
    assert all(a.status_code == 200 for a in answers)
    assert calls == [20]  # one model call for twenty requests, at the largest k asked for
    assert [len(a.json()["items"]) for a in answers] == [1 + i % 5 for i in range(20)]
    logged = read_log(tmp_path)
    assert sorted(r["user"] for r in logged) == sorted(users)
    by_user = {r["user"]: r for r in logged}
    for a in answers:
        doc = a.json()
        assert by_user[doc["user"]]["items"] == [i["item"] for i in doc["items"]]
        assert by_user[doc["user"]]["request_id"] == doc["request_id"] and doc["version"] == 3


def test_what_clients_send_is_checked_in_one_sentence(predictor):
    assert predictor.k_of(None) == 10 and predictor.k_of("7") == 7
    for bad in (0, 1001, "x", True, 2.5):
        with pytest.raises(RequestError, match="k must be a whole number from 1 to 1000"):
            predictor.k_of(bad)
    assert predictor.users_of({"users": [12347, "u"]}) == ["12347", "u"]
    for doc, words in (
        ({}, "a non-empty list of user ids"),
        ({"users": []}, "a non-empty list of user ids"),
        ({"users": [" "]}, "users[0] must be a user id"),
        ({"users": [1.5]}, "users[0] must be a user id"),
    ):
        with pytest.raises(RequestError, match=words.replace("[", r"\[").replace("]", r"\]")):
            predictor.users_of(doc)
    item = str(predictor.model.items[0])
    assert predictor.feedback_of(0, {"user": 1, "item": item})["event"] == "purchase"
    assert (
        predictor.feedback_of(0, {"user": 1, "item": "new-product", "event": "click"})["known_item"] is False
    )
    with pytest.raises(RequestError, match="feedback 2: user must be an id"):
        predictor.feedback_of(2, {"item": item})
