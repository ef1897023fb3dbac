"""The deployed recommender on the real Online Retail log: ids in and out, bought items left out,
cold start, the padding of a short list, and the reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from poc2prod.errors import ProjectError
from poc2prod.recommend import ALS, Interactions, ItemKNN
from poc2prod.recommend._deployed import DeployedRecommender
from poc2prod.recommend._recipe import build, defaults, from_params, label


@pytest.fixture(scope="module")
def deployed(split):
    return DeployedRecommender(ItemKNN(), split.train)


def _history(log: Interactions, user: str) -> set[str]:
    row = int(np.flatnonzero(log.users.astype(str) == user)[0])
    return {str(log.items[i]) for i in log.item[log.user == row]}


def test_lists_speak_the_clients_ids_and_leave_out_what_users_had(deployed, split):
    users = [str(u) for u in split.train.users[:200]]
    for answer in deployed.recommend(users, 10):
        assert answer.known and len(answer.items) == 10 and len(set(answer.items.tolist())) == 10
        ids = {deployed.items[j] for j in answer.items}
        assert not ids & _history(split.train, answer.user)
        assert (np.diff(answer.scores) <= 0).all()


def test_items_bought_since_the_fit_are_left_out_too(deployed):
    user = deployed.users[3]
    first = deployed.recommend([user], 10)[0].items
    bought = {int(first[0]), int(first[4])}
    again = deployed.recommend([user], 10, exclude={user: bought})[0].items
    assert not bought & set(again.tolist()) and len(again) == 10
    assert again.tolist()[:3] == [first[1], first[2], first[3]]  # the rest keep their order


def test_an_unknown_user_gets_the_recent_popular_list(deployed, split):
    cold = [str(u) for u in split.cold.users[:3]]  # bought only after the cut: unknown to the model
    answers = deployed.recommend([*cold, "no such customer"], 10)
    assert not any(a.known for a in answers)
    popular = deployed.popular.ranking_[:10].tolist()
    assert all(a.items.tolist() == popular for a in answers)
    assert (
        deployed.recommend(["no such customer"], 10, exclude={"no such customer": {popular[0]}})[
            0
        ].items.tolist()
        == deployed.popular.ranking_[1:11].tolist()
    )


def test_a_list_is_short_only_when_the_catalogue_runs_out():
    frame = pd.DataFrame(
        {
            "user": ["a", "a", "a", "b", "b", "c"],
            "item": ["x", "y", "z", "x", "y", "x"],
            "time": pd.date_range("2024-01-01", periods=6),
            "weight": 1.0,
        }
    )
    model = DeployedRecommender(ItemKNN(shrink=0.0), Interactions.from_frame(frame))
    b, c, a = model.recommend(["b", "c", "a"], 3)
    assert [model.items[j] for j in b.items] == ["z"]  # all that b does not have
    assert sorted(model.items[j] for j in c.items) == ["y", "z"]
    assert a.items.tolist() == [] and a.known  # a has every item: nothing is left to recommend


def test_reasons_name_items_from_the_users_own_history(deployed, split):
    user = deployed.users[10]
    answer = deployed.recommend([user], 5)[0]
    had = _history(split.train, user)
    reasons = deployed.reasons(user, answer.items)
    assert len(reasons) == 5 and all(reasons)
    assert all(r["bought"] in had and r["similarity"] > 0 for item in reasons for r in item)
    assert deployed.reasons("no such customer", answer.items[:1]) == [
        [{"reason": "popular in the last 30 days"}]
    ]


def test_recipes_round_trip_through_json_and_optuna_parameters():
    assert label({"model": "als"}) == "als"
    blend = {
        "model": "blend",
        "members": [
            {"model": "item_knn", "params": {"shrink": 5.0}},
            {"model": "als", "params": {"factors": 8}},
        ],
        "weights": [0.6, 0.4],
    }
    assert label(blend) == "blend(item_knn 0.60, als 0.40)"
    built = build(blend)
    assert (
        built.members[0].shrink == 5.0 and isinstance(built.members[1], ALS) and built.weights == [0.6, 0.4]
    )
    settings = ("factors", "regularization", "alpha", "iterations")
    assert from_params(defaults("als")) == {
        "model": "als",
        "params": {k: getattr(ALS(), k) for k in settings},
    }
    with pytest.raises(ProjectError, match="unknown recommender 'svd'"):
        build({"model": "svd"})


def test_precomputed_lists_answer_exactly_as_the_live_model(split):
    import pickle

    model = DeployedRecommender(ItemKNN(), split.train)
    users = [*model.users[:300], "no such customer"]
    first = model.recommend([users[0]], 20)[0].items
    exclude = {users[0]: set(first[:15].tolist()), users[1]: {int(first[0])}}  # 15: past the spare depth
    live = {k: model.recommend(users, k, exclude) for k in (10, 30)}
    assert model.precompute(depth=20, max_users=200) == 200  # users past 200 stay live
    for k in (10, 30):
        for a, b in zip(live[k], model.recommend(users, k, exclude), strict=True):
            assert a.user == b.user and a.known == b.known
            assert a.items.tolist() == b.items.tolist() and np.allclose(a.scores, b.scores)
    assert pickle.loads(pickle.dumps(model))._lists is None  # never stored with the model
