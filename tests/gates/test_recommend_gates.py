"""The shipped recommendation example through every gate after prove, on the real Online Retail
log: optimize, deploy (a backtest, then on everything), the service with its feedback and its
mistakes, the batch lists, monitoring and the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

from poc2prod import Project
from poc2prod.errors import DataError, ProjectError
from poc2prod.gates._prepare_recommend import prepare_log
from poc2prod.recommend._recipe import build, label

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = Project.init(tmp_path_factory.mktemp("shop") / "shop", example="recommend")
    project.prove(budget=40)
    return project


@pytest.fixture(scope="module")
def optimized(project):
    return project.optimize(budget=120, trials=3)


@pytest.fixture(scope="module")
def backtest(project, optimized):
    """Version 1: the optimized recipe fitted on the interactions before the holdout's cut."""
    cut = prepare_log(project).future.cut
    return project.deploy(until=str(cut)), cut


def test_optimize_tunes_both_families_blends_them_and_prices_the_lists(project, optimized):
    r = optimized
    assert r.trials >= 3 and set(r.study["by_model"]) == {"item_knn", "als"}
    names = [c["model"] for c in r.candidates]
    assert names[:2] == ["item_knn", "als"] and names[2].startswith("blend(")
    best = max(r.candidates, key=lambda c: c["selection"]["recall@10"])
    assert r.optimized["model"] == best["model"] == label(r.optimized["recipe"])
    build(r.optimized["recipe"])  # the recorded recipe rebuilds
    # Judged once on the future, user by user, against prove's model and most-popular.
    for g in (r.gain, r.versus_popular):
        assert g["low"] <= g["difference"] <= g["high"]
    assert r.versus_popular["clear"] and r.popular["model"].startswith("most_popular")
    v = r.value
    assert v["currency"] == "GBP" and v["per_accepted"]["margin"] == 0.3
    inc = v["incremental_vs_most_popular"]
    assert inc["per_1000_lists"] == pytest.approx(
        v["optimized"]["per_1000_lists"] - v["most_popular"]["per_1000_lists"]
    )
    assert inc["per_1000_lists_low"] <= inc["per_1000_lists_high"]
    assert "A/B test" in v["caveat"] or "a/b test" in v["caveat"].lower()
    assert project.last("optimize")["run_id"] == r.run_id


def test_optimize_resumes_its_study(project, optimized):
    again = project.optimize(budget=60, trials=optimized.trials)
    assert any("resumed the study" in n for n in again.notes)
    assert again.study["this_run"] == 0 and again.trials == optimized.trials


def test_a_backtest_deploy_knows_nothing_from_the_cut_on(project, backtest):
    deployed, cut = backtest
    predictor = project.predictor()
    assert predictor.version == deployed.version
    assert pd.Timestamp(predictor.settings["trained_until"]) < cut
    assert deployed.metrics["recall@10"] == project.last("optimize")["optimized"]["holdout"]["recall@10"]
    assert project.models()[0].metrics()["recall@10"] == pytest.approx(deployed.metrics["recall@10"])


def test_the_service_recommends_leaves_out_purchases_and_answers_mistakes_in_one_sentence(project, backtest):
    prep = prepare_log(project)
    train = prep.log.time < backtest[1].to_datetime64()
    user_row = int(np.bincount(prep.log.user[train]).argmax())  # the busiest customer before the cut
    user = str(prep.log.users[user_row])
    had = {str(prep.log.items[i]) for i in prep.log.item[train & (prep.log.user == user_row)]}
    with TestClient(project.app()) as client:
        first = client.get(f"/recommend/{user}?k=10&explain=true").json()
        items = [i["item"] for i in first["items"]]
        assert first["known"] and len(items) == 10 and not set(items) & had
        assert all(r["bought"] in had for i in first["items"] for r in i["reasons"])
        cold = client.get("/recommend/a-new-visitor?k=5").json()
        assert not cold["known"] and len(cold["items"]) == 5
        both = client.post("/recommend", json={"users": [user, "a-new-visitor"], "k": 3}).json()
        assert [x["user"] for x in both["lists"]] == [user, "a-new-visitor"]
        assert [i["item"] for i in both["lists"][0]["items"]] == items[:3]  # the head of her top 10

        bought = {"user": user, "item": items[0], "event": "purchase"}
        assert client.post("/feedback", json=bought).json() == {"accepted": 1}
        after = [i["item"] for i in client.get(f"/recommend/{user}").json()["items"]]
        assert items[0] not in after and after[:3] == items[1:4]

        for path, status, words in (
            (f"/recommend/{user}?k=0", 422, "k must be a whole number from 1 to 1000"),
            (f"/recommend/{user}?k=ten", 422, "k must be a whole number"),
            ("/recommend/", 404, "one user id after /recommend/"),
        ):
            answer = client.get(path)
            assert answer.status_code == status and words in answer.json()["error"]
        for path, body, words in (
            ("/recommend", {"users": "12347"}, "a non-empty list of user ids"),
            ("/recommend", {"users": [None]}, "users[0] must be a user id"),
            ("/recommend", {"users": [str(u) for u in range(1001)]}, "send at most 1,000"),
            ("/feedback", {"user": user, "event": "purchase"}, "feedback 0: item must be an id"),
            (
                "/feedback",
                {"user": user, "item": "x", "event": "liked"},
                "event must be one of purchase, click",
            ),
            ("/predict", {"rows": [{}]}, "this service recommends"),
        ):
            answer = client.post(path, json=body)
            assert answer.status_code in (404, 422) and words in answer.json()["error"], (path, answer.json())
        answer = client.post("/recommend", content=b"{not json", headers={"content-type": "application/json"})
        assert answer.status_code == 400 and "not valid JSON" in answer.json()["error"]
        assert "/recommend/{user}" in client.get("/openapi.json").json()["paths"]
    # A restarted service reads the purchases back from the feedback log: nothing is forgotten.
    with TestClient(project.app()) as client:
        assert items[0] not in [i["item"] for i in client.get(f"/recommend/{user}").json()["items"]]


def test_every_users_list_in_one_batch_job(project, backtest, tmp_path):
    out = project.score(None, tmp_path / "lists.parquet")
    lists = pd.read_parquet(out.output)
    predictor = project.predictor()
    assert out.rows == len(predictor.model.users) == lists["user"].nunique()
    assert lists.groupby("user")["rank"].max().max() == 10 and lists["known"].all()
    users = tmp_path / "users.csv"
    pd.DataFrame({"CustomerID": [12347.0, None, 99999999.0]}).to_csv(users, index=False)
    some = pd.read_parquet(project.score(users, tmp_path / "some.csv.parquet", k=3).output)
    assert some.groupby("user")["known"].first().to_dict() == {"12347": True, "99999999": False}
    pd.DataFrame({"customer": [1]}).to_csv(users, index=False)
    with pytest.raises(DataError, match="has no column 'CustomerID' of user ids"):
        project.score(users, tmp_path / "x.parquet")
    # The users file is read in the spec's encoding, like the data it comes from.
    spec = project.root / "poc2prod.yaml"
    text = spec.read_text()
    users.write_bytes("CustomerID\n12347\n".encode("utf-16"))
    try:
        spec.write_text(text.replace("data:\n", "data:\n  encoding: utf-16\n", 1))
        again = Project.load(project.root).score(users, tmp_path / "utf16.parquet", k=3)
        assert pd.read_parquet(again.output)["user"].unique().tolist() == ["12347"]
    finally:
        spec.write_text(text)


def test_monitor_attributes_purchases_to_lists_and_the_report_shows_it(project, backtest):
    prep = prepare_log(project)
    cut = backtest[1]
    after = prep.cleaned[prep.cleaned["time"] >= cut].head(3000)
    day0 = cut.timestamp()
    with TestClient(project.app()) as client:
        users = [str(u) for u in after["user"].unique()[:300]]
        client.post("/recommend", json={"users": users, "time": day0})
        events = [
            {"user": str(u), "item": str(i), "event": "purchase", "time": t.timestamp()}
            for u, i, t in zip(after["user"], after["item"], after["time"], strict=True)
        ]
        assert client.post("/feedback", json={"feedback": events}).json()["accepted"] == len(events)
    result = project.monitor("7d")
    assert result.lists >= len(users) and result.purchases >= len(events)
    assert 0 < result.accepted < result.purchases
    served = [w for w in result.windows if w["lists"]]
    assert served and all(0 < w["coverage"] <= 1 for w in served)
    assert result.value is not None and result.value > 0
    assert project.last("monitor")["accepted"] == result.accepted
    html = project.report().read_text(encoding="utf-8")
    for words in ("Incremental value over most-popular", "Catalogue coverage", "accepted recommendations"):
        assert words in html


def test_retrain_and_until_on_other_tasks_refuse_in_one_sentence(project, german_project):
    with pytest.raises(ProjectError, match="append the new interactions"):
        project.retrain("newer.csv")
    with pytest.raises(ProjectError, match="--until applies to task: recommend"):
        german_project.deploy(until="2024-01-01")


def test_a_full_deploy_refits_on_everything_and_rolls_back(project, backtest):
    full = project.deploy()
    assert full.previous == backtest[0].version and full.version == backtest[0].version + 1
    latest = prepare_log(project).log.time.max()
    assert pd.Timestamp(project.predictor().settings["trained_until"]) == pd.Timestamp(latest).floor("s")
    assert project.deploy(version=backtest[0].version).action == "promoted"
    assert project.predictor().version == backtest[0].version
