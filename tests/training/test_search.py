"""Model choice on temporal folds: folds never look forward, the search is seeded, the winner is registered."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from training import search
from training.dataset import from_frame
from training.linear import LinearModel
from training.model import ScoringModel, to_matrix
from training.toy import TOY_FEATURES, inspection_history, toy_frame
from training.train import DEFAULT_PARAMS, train_candidates


@pytest.fixture(scope="module")
def history():
    frame = inspection_history(rows=12_000, seed=11)
    return from_frame(frame, id_col="inspection_id", time_col="inspection_date", label_col="critical_found",
                      split_col="split")


def test_folds_never_look_forward_and_the_last_is_the_datasets_own_split(history):
    folds = search.temporal_folds(history)
    assert len(folds) == 3
    t = pd.to_datetime(history.frame["inspection_date"]).to_numpy()
    for f in folds:
        assert t[f.train].max() < t[f.valid].min()
    last = folds[-1]
    split = history.frame["_split"].to_numpy()
    assert set(split[last.train]) == {"train"} and set(split[last.valid]) == {"valid"}
    assert len(last.train) + len(last.valid) == int(np.isin(split, ["train", "valid"]).sum())
    assert not np.isin(split[np.concatenate([f.valid for f in folds])], ["test"]).any()  # test is never seen


def test_spine_folds_keep_the_label_embargo():
    ds = from_frame(toy_frame(entities=300, periods=20, seed=2), id_col="uscc", time_col="as_of", label_col="label",
                    features=TOY_FEATURES, embargo_months=12)
    folds = search.temporal_folds(ds)
    assert len(folds) >= 2
    t = pd.to_datetime(ds.frame["as_of"])
    for f in folds:
        assert (t.iloc[f.train] + pd.DateOffset(months=12)).max() <= t.iloc[f.valid].min()


def test_the_search_tries_the_previous_defaults_first_and_repeats_with_a_count():
    configs = search.configurations(DEFAULT_PARAMS, seed=3, limit=5)
    assert configs[0] == {k: DEFAULT_PARAMS[k] for k in search.SPACE}
    assert len({tuple(sorted(c.items())) for c in configs}) == 5
    assert configs == search.configurations(DEFAULT_PARAMS, seed=3, limit=5)
    assert configs != search.configurations(DEFAULT_PARAMS, seed=4, limit=5)


def test_tuned_defaults_beat_the_previous_defaults_and_the_logistic_on_a_public_shaped_table(history):
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    feats = history.features
    tr, va, te = (history.part(s) for s in ("train", "valid", "test"))
    cat = [i for i, f in enumerate(feats) if f["kind"] == "categorical"]
    d_tr = lgb.Dataset(to_matrix(tr, feats), tr["critical_found"], categorical_feature=cat)
    d_va = lgb.Dataset(to_matrix(va, feats), va["critical_found"], reference=d_tr, categorical_feature=cat)
    # the previous procedure: default parameters on train, early stopping on valid, no refit
    before = lgb.train({**DEFAULT_PARAMS, "seed": 1}, d_tr, 300, valid_sets=[d_va],
                       callbacks=[lgb.early_stopping(30, verbose=False)])
    y = te["critical_found"].to_numpy()
    previous = roc_auc_score(y, before.predict(to_matrix(te, feats), num_iteration=before.best_iteration))
    sel = train_candidates(history, seed=1, max_configs=4)
    tuned = roc_auc_score(y, sel.models["lightgbm"].predict_proba(te))
    logistic = roc_auc_score(y, sel.models["logistic"].predict_proba(te))
    assert sel.record["winner"] == "lightgbm" and sel.winner is sel.models["lightgbm"]
    assert tuned > previous and tuned > logistic
    assert len(sel.record["trials"]["lightgbm"]) == 4 and sel.record["trials"]["lightgbm"][0]["params"] == {
        k: DEFAULT_PARAMS[k] for k in search.SPACE}
    chosen = sel.record["chosen"]
    assert chosen["lightgbm"]["auc"] == max(t["auc"] for t in sel.record["trials"]["lightgbm"])
    assert sel.winner.meta["num_trees"] == round(np.mean(chosen["lightgbm"]["rounds"]))
    assert sel.record["categorical"]["cardinality"]["inspector_id"] > 30


def test_the_registered_candidate_is_the_one_that_wins_on_validation():
    # a world that is linear in its features: the logistic regression fits it as well as trees or better
    rng = np.random.default_rng(5)
    n = 4000
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2.0 + 0.9 * x1 - 0.7 * x2)))).astype(int)
    frame = pd.DataFrame({"id": np.arange(n), "t": np.repeat(np.arange(10), n // 10), "a": x1, "b": x2, "y": y})
    ds = from_frame(frame, id_col="id", time_col="t", label_col="y")
    sel = train_candidates(ds, seed=2, budget_s=0)
    cv = {k: t["auc"] for k, t in sel.record["chosen"].items()}
    assert sel.record["winner"] == max(cv, key=cv.get)
    assert sel.winner.kind == sel.record["winner"]
    assert sel.runner_up is not None and sel.runner_up.kind != sel.winner.kind


def test_a_logistic_bundle_scores_and_explains_like_a_tree_bundle(tmp_path):
    ds = from_frame(toy_frame(entities=800, periods=8, seed=4), id_col="uscc", time_col="as_of", label_col="label",
                    features=TOY_FEATURES)
    model = train_candidates(ds, seed=1, budget_s=0, candidates=("logistic",)).winner
    assert model.kind == "logistic" and model.booster is None
    folder = model.export_local(tmp_path / "m")
    assert not (folder / "booster.txt").exists()
    again = ScoringModel.load_local(folder)
    rows = ds.part("test").head(50)
    assert np.allclose(again.predict_proba(rows), model.predict_proba(rows))
    scored = again.score(rows)
    assert set(scored["tier"]) <= {"A", "B", "C", "D"}
    assert all(r["contribution"] > 0 for reasons in scored["reasons"] for r in reasons)
    # contributions and the bias column add up to the log-odds
    linear = LinearModel.from_dict(model.meta["linear"])
    x = to_matrix(rows, model.features)
    assert np.allclose(linear.contributions(x).sum(axis=1), linear.decision(x))


def test_a_logistic_score_does_not_depend_on_how_the_rows_are_batched():
    # a publication scores in batches (100k rows, Spark partitions, 37 in a test): every bit must be the same
    ds = from_frame(toy_frame(entities=800, periods=8, seed=4), id_col="uscc", time_col="as_of", label_col="label",
                    features=TOY_FEATURES)
    model = train_candidates(ds, seed=1, budget_s=0, candidates=("logistic",)).winner
    rows = ds.part("test").head(700).reset_index(drop=True)
    whole = model.predict_proba(rows)
    for size in (1, 3, 37, 256):
        parts = [model.predict_proba(rows.iloc[lo:lo + size]) for lo in range(0, len(rows), size)]
        assert np.array_equal(np.concatenate(parts), whole), size


def test_a_count_of_configurations_repeats_a_run_exactly():
    ds = from_frame(toy_frame(entities=600, periods=8, seed=9), id_col="uscc", time_col="as_of", label_col="label",
                    features=TOY_FEATURES)
    a = train_candidates(ds, seed=7, max_configs=2, candidates=("lightgbm",)).winner
    b = train_candidates(ds, seed=7, max_configs=2, candidates=("lightgbm",)).winner
    def chosen(m):  # everything but how long each trial took
        return {k: {f: v for f, v in t.items() if f != "seconds"} for k, t in m.meta["selection"]["chosen"].items()}

    assert a.booster_text == b.booster_text and chosen(a) == chosen(b)
    assert date.fromisoformat(a.training_window["test"]["start"]) > date.fromisoformat(
        a.training_window["valid"]["end"])
