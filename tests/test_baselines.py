"""Classical baselines: model factory and grids, combined feature tables, the protocol-comparison helpers."""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, ParameterGrid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ser_utils.audio import AudioConfig
from ser_utils.augment import augment_manifest
from ser_utils.baselines import (
    GRIDS,
    MODELS,
    Experiment,
    LateFusion,
    RowSpace,
    add_inflation,
    best_per_protocol,
    configuration_grid,
    describe_models,
    fusion_experiments,
    fusion_table,
    leaky_search,
    make_model,
    param_grid,
    pool_effect,
    pooled_twins,
    results_table,
    run_experiments,
    select_on_test,
    tuned_model,
)
from ser_utils.display import plot_configurations, plot_protocol_bars
from ser_utils.evaluation import CVResult, cross_validate
from ser_utils.features import FeatureTable, column_blocks, combine_tables
from ser_utils.splits import leak_audit, lopo_applicable, make_folds

matplotlib.use("Agg")

EMOTIONS = ["angry", "happy", "neutral", "sad"]


def _meta(n_speakers: int = 4, n_sentences: int = 3) -> pd.DataFrame:
    rows = [
        {
            "utt_id": f"c/s{s}/{e}-{t}",
            "source_id": f"c/s{s}/{e}-{t}",
            "path": f"/x/s{s}/{e}-{t}.wav",
            "speaker": f"c_s{s}",
            "sentence": f"c_t{t}",
            "emotion": e,
            "corpus": "c",
            "augmentation": "",
        }
        for s, t, e in itertools.product(range(n_speakers), range(n_sentences), EMOTIONS)
    ]
    return pd.DataFrame(rows)


def _table(meta: pd.DataFrame, name: str, width: int, seed: int = 0, skipped=()) -> FeatureTable:
    """A vector FeatureTable whose first column encodes the row (to check alignment after combining)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(len(meta), width)).astype(np.float32)
    X[:, 0] = np.arange(len(meta))
    skipped_rows = pd.DataFrame(
        [
            {
                "utt_id": u,
                "source_id": u,
                "path": f"/x/{u}.wav",
                "augmentation": "",
                "reason": "silent: peak below -60 dBFS",
            }
            for u in skipped
        ],
        columns=["utt_id", "source_id", "path", "augmentation", "reason"],
    )
    return FeatureTable(
        X=X,
        meta=meta.reset_index(drop=True),
        skipped=skipped_rows,
        feature_names=[f"{name}_{i}" for i in range(width)],
        feature_set=name,
        kind="vector",
        params={"p": 1},
        audio=AudioConfig(),
        config_key=f"key-{name}",
        timing={"computed": float(len(meta)), "from_cache": 0.0, "seconds": 1.0},
    )


# ------------------------------------------------------------------------------------------------ models


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", MODELS)
def test_make_model_returns_a_fresh_scaled_pipeline(name: str) -> None:
    a, b = make_model(name), make_model(name)
    assert isinstance(a, Pipeline) and a is not b
    assert isinstance(a.steps[0][1], StandardScaler)  # scaling is fitted inside each training part
    assert a.steps[0][1] is not b.steps[0][1] and a.steps[-1][1] is not b.steps[-1][1]
    meta = _meta()
    X = np.random.default_rng(0).normal(size=(len(meta), 5))
    a.fit(X, meta["emotion"].to_numpy())
    assert not hasattr(b.steps[-1][1], "classes_")  # fitting one leaves the other untouched
    assert not hasattr(make_model(name).steps[-1][1], "classes_")


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("size", ["default", "small"])
def test_grids_are_valid_for_their_pipeline(name: str, size: str) -> None:
    grid = param_grid(name, size)
    valid = make_model(name).get_params()
    for point in ParameterGrid(grid):
        assert set(point) <= set(valid), f"{name}: unknown grid keys {set(point) - set(valid)}"
        clone(make_model(name)).set_params(**point)  # every value is accepted
    grid[next(iter(grid))].append("mutated")
    assert "mutated" not in GRIDS[name][size][next(iter(grid))]  # param_grid hands out a copy


def test_default_svm_grid_is_the_documented_one() -> None:
    assert param_grid("svm") == {"svc__C": [1.0, 10.0, 100.0], "svc__gamma": ["scale", 0.01]}


def test_tuned_model_is_a_nested_search_unless_the_grid_has_one_point() -> None:
    search = tuned_model("svm")
    assert isinstance(search, GridSearchCV) and search.scoring == "balanced_accuracy"
    assert len(ParameterGrid(search.param_grid)) == 6
    single = tuned_model("logreg", grid="small")
    assert isinstance(single, Pipeline) and single.get_params()["logreg__C"] == 0.1
    custom = tuned_model("svm", grid={"svc__C": [5.0]})
    assert custom.get_params()["svc__C"] == 5.0


def test_unknown_model_and_grid_size_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown model 'rf'"):
        make_model("rf")
    with pytest.raises(ValueError, match="grid size"):
        param_grid("svm", "huge")


def test_describe_models_lists_every_model_with_its_grid() -> None:
    table = describe_models()
    assert list(table.index) == [*MODELS, "late_fusion"]
    assert table.loc["svm", "candidates"] == 6 and "C ∈" in table.loc["svm", "grid"]


# ------------------------------------------------------------------------------------------------ combination


def test_combine_tables_aligns_rows_on_utt_id() -> None:
    meta = _meta()
    a = _table(meta, "a", 3)
    shuffled = meta.sample(frac=1.0, random_state=1).reset_index(drop=True)
    b = _table(shuffled, "b", 4, seed=1)
    combined = combine_tables([a, b])
    assert combined.X.shape == (len(meta), 7)
    assert combined.feature_set == "a+b" and combined.kind == "vector"
    assert combined.feature_names[:1] == ["a:a_0"] and combined.feature_names[3] == "b:b_0"
    assert combined.meta["utt_id"].tolist() == meta["utt_id"].tolist()  # order of the first table
    # b's first column is its own row number: it must point at the same utt_id as a's
    b_rows = combined.X[:, 3].astype(int)
    assert (shuffled["utt_id"].to_numpy()[b_rows] == combined.meta["utt_id"].to_numpy()).all()
    assert combined.skipped.empty
    assert combined.timing["seconds"] == 2.0


def test_combine_tables_drops_rows_missing_in_any_set_and_says_why() -> None:
    meta = _meta()
    gone_in_b, gone_in_c = meta["utt_id"].iloc[0], meta["utt_id"].iloc[5]
    a = _table(meta, "a", 2)
    b = _table(meta[meta["utt_id"] != gone_in_b], "b", 2, skipped=[gone_in_b])
    c = _table(meta[meta["utt_id"] != gone_in_c], "c", 2)  # absent without being listed as skipped
    combined = combine_tables({"a": a, "b": b, "c": c}, name="abc")
    assert combined.feature_set == "abc"
    assert len(combined) == len(meta) - 2
    assert {gone_in_b, gone_in_c}.isdisjoint(combined.meta["utt_id"])
    reasons = combined.skipped.set_index("utt_id")["reason"]
    assert reasons[gone_in_b].startswith("b: silent")
    assert "missing from c" in reasons[gone_in_c]
    # every kept row still carries its own features from every set
    a_rows, c_rows = combined.X[:, 0].astype(int), combined.X[:, 4].astype(int)
    kept_c = meta[meta["utt_id"] != gone_in_c].reset_index(drop=True)
    assert (meta["utt_id"].to_numpy()[a_rows] == kept_c["utt_id"].to_numpy()[c_rows]).all()


def test_combine_tables_refuses_windows_duplicates_and_mismatched_labels() -> None:
    meta = _meta()
    windows = _table(meta, "w", 2)
    windows.kind = "windows"
    with pytest.raises(ValueError, match="only vector sets"):
        combine_tables([_table(meta, "a", 2), windows])
    with pytest.raises(ValueError, match="utt_id must be unique"):
        combine_tables([_table(pd.concat([meta, meta.head(1)]), "a", 2)])
    relabelled = meta.assign(emotion=meta["emotion"].iloc[::-1].to_numpy())
    with pytest.raises(ValueError, match="disagrees"):
        combine_tables([_table(meta, "a", 2), _table(relabelled, "b", 2)])
    with pytest.raises(ValueError, match="at least one"):
        combine_tables([])


# ------------------------------------------------------------------------------------------------ protocols


def test_lopo_applicable_needs_a_sentence_design() -> None:
    ok, why = lopo_applicable(_meta(n_speakers=4, n_sentences=3))
    assert ok and "3 sentences" in why
    assert lopo_applicable(_meta(n_sentences=2)) == (False, "only 2 sentence(s) (LOPO needs at least 3)")
    own = _meta(n_speakers=4, n_sentences=1)
    own["sentence"] = own["speaker"] + "_text"  # every speaker reads their own text
    ok, why = lopo_applicable(own)
    assert not ok and "single speaker" in why
    ok, why = lopo_applicable(_meta().drop(columns="sentence"))
    assert not ok and "no sentence labels" in why


def test_leak_audit_sees_the_leaky_recipe_and_not_the_honest_protocols() -> None:
    rows = augment_manifest(_meta(n_speakers=4, n_sentences=3), ["noise", "gain"], include_original=True)
    leaky = leak_audit(rows, make_folds(rows, "leaky", n_folds=4, seed=0))
    assert leaky["clip in training"] > 0.9  # nearly every test row has a sibling in training
    random = leak_audit(rows, make_folds(rows, "random", n_folds=4, seed=0))
    assert random["clip in training"] == 0.0 and random["speaker in training"] == 1.0
    loso = leak_audit(rows, make_folds(rows, "loso"))
    assert loso["clip in training"] == 0.0 and loso["speaker in training"] == 0.0
    assert loso["sentence in training"] == 1.0 and loso["folds"] == 4
    lopo = leak_audit(rows, make_folds(rows, "lopo"))
    assert lopo["sentence in training"] == 0.0 and lopo["speaker in training"] == 1.0


def _result(name: str, uars: list[float], preds_per_fold: int = 2) -> CVResult:
    folds = [f"fold {k}" for k in range(1, len(uars) + 1)]
    per_fold = pd.DataFrame({"fold": folds, "accuracy": uars, "uar": uars, "macro_f1": uars, "n_test": preds_per_fold})
    predictions = pd.DataFrame(
        [
            {"source_id": f"{name}-{f}-{i}", "fold": f, "true": "a", "pred": name}
            for f in folds
            for i in range(preds_per_fold)
        ]
    )
    return CVResult(name, "f", "svm", "leaky", ["a", "b"], per_fold, predictions, {"uar": 0.5})


def test_select_on_test_picks_the_best_candidate_per_fold() -> None:
    chosen = select_on_test([_result("x", [0.5, 0.9, 0.1]), _result("y", [0.6, 0.2, 0.3])], experiment="leaky")
    assert chosen.experiment == "leaky"
    assert chosen.per_fold["uar"].tolist() == [0.6, 0.9, 0.3]
    assert chosen.per_fold["chosen_candidate"].tolist() == [1, 0, 1]
    assert chosen.predictions.groupby("fold")["pred"].first().to_dict() == {"fold 1": "y", "fold 2": "x", "fold 3": "y"}
    assert len(chosen.predictions) == 6
    with pytest.raises(ValueError, match="same folds"):
        select_on_test([_result("x", [0.5, 0.9]), _result("y", [0.6, 0.2, 0.3])])


def test_add_inflation_and_best_per_protocol() -> None:
    table = pd.DataFrame(
        {
            "protocol": ["random", "loso", "random", "loso"],
            "norm": [False, False, True, True],
            "uar": [0.70, 0.40, 0.65, 0.50],
            "model": ["a", "a", "b", "b"],
        }
    )
    out = add_inflation(table, reference="loso", by="norm")
    assert out["inflation (points)"].round(6).tolist() == [30.0, 0.0, 15.0, 0.0]
    with pytest.raises(ValueError, match="exactly one"):
        add_inflation(table, reference="loso")  # two loso rows without grouping
    best = best_per_protocol(table)
    assert best.loc["random", "model"] == "a" and best.loc["loso", "model"] == "b"
    embedded = table.assign(features=["mfcc_mean", "mfcc_mean", "whisper", "whisper"])
    assert best_per_protocol(embedded)["model"].tolist() == ["a", "a"]  # embeddings never win the trained-here table
    assert best_per_protocol(embedded, pretrained=True)["model"].tolist() == ["b", "b"]


def _separable(n_speakers: int = 4, n_sentences: int = 3) -> FeatureTable:
    """Emotion centres plus a per-speaker offset: learnable, with a speaker effect to normalise away."""
    meta = _meta(n_speakers, n_sentences)
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=2.0, size=(len(EMOTIONS), 5))
    offsets = {s: rng.normal(scale=3.0, size=5) for s in meta["speaker"].unique()}
    X = np.stack(
        [
            centres[EMOTIONS.index(e)] + offsets[s] + rng.normal(scale=0.5, size=5)
            for e, s in zip(meta["emotion"], meta["speaker"])
        ]
    )
    table = _table(meta, "toy", 5)
    table.X = X.astype(np.float32)
    return table


def test_run_experiments_records_settings_and_does_not_depend_on_n_jobs() -> None:
    table = _separable()
    experiments = [Experiment("toy", "svm", "loso", speaker_norm=norm) for norm in (False, True)]
    experiments += [Experiment("toy", "logreg", "lopo", label="LOPO"), Experiment("toy", "svm", "leaky")]
    serial = run_experiments(experiments, {"toy": table}, grid="small", progress=False)
    parallel = run_experiments(experiments, {"toy": table}, grid="small", n_jobs=2, progress=False)
    assert list(serial) == experiments
    for e in experiments:
        pd.testing.assert_frame_equal(serial[e].per_fold, parallel[e].per_fold)
    summary = results_table(serial)
    assert summary["label"].tolist() == ["loso", "loso", "LOPO", "leaky"]
    assert summary["speaker_norm"].tolist() == [False, True, False, False]
    assert (summary["seconds"] > 0).all() and summary["folds"].tolist() == [4, 4, 3, 5]
    normalised = summary.loc[1, "uar"]
    assert normalised >= 0.9  # speaker offsets removed: easy
    assert "speaker-norm" in experiments[1].name and "nested grid search" in experiments[1].notes
    assert "picked on the test part" in experiments[3].notes
    with pytest.raises(ValueError, match="no feature table"):
        run_experiments([Experiment("other", "svm", "loso")], {"toy": table}, progress=False)


def test_run_experiments_matches_a_direct_cross_validate() -> None:
    table = _separable()
    e = Experiment("toy", "svm", "loso")
    via_runner = run_experiments([e], {"toy": table}, progress=False)[e]
    direct = cross_validate(
        tuned_model("svm"), table, "loso", experiment=e.name, features="toy", model="svm", progress=False
    )
    assert via_runner.per_fold["uar"].tolist() == direct.per_fold["uar"].tolist()


def test_leaky_search_picks_each_fold_s_best_candidate_on_its_test_part() -> None:
    table = _separable()
    grid = {"logreg__C": [0.001, 1.0]}
    leaky = leaky_search(
        make_model("logreg"), table, grid, experiment="leaky", features="toy", model="logreg", n_folds=4, progress=False
    )
    candidates = [
        cross_validate(
            make_model("logreg").set_params(logreg__C=c), table, "leaky", experiment=str(c), n_folds=4, progress=False
        )
        for c in grid["logreg__C"]
    ]
    best = np.max([c.per_fold["uar"].to_numpy() for c in candidates], axis=0)
    assert leaky.protocol == "leaky" and leaky.experiment == "leaky" and leaky.model == "logreg"
    np.testing.assert_allclose(leaky.per_fold["uar"].to_numpy(), best)
    assert len(leaky.predictions) == len(table)  # the leaky recipe scores every row


def test_plot_protocol_bars_draws_one_bar_per_protocol_and_setting() -> None:
    table = pd.DataFrame(
        {
            "label": ["random", "loso"] * 2,
            "speaker_norm": [False, False, True, True],
            "uar": [0.7, 0.4, 0.6, 0.5],
            "uar_std": [0.05, 0.1, np.nan, 0.1],
        }
    )
    fig = plot_protocol_bars(table, x="label", hue="speaker_norm", chance=0.25)
    ax = fig.axes[0]
    assert len(ax.patches) == 4
    assert [t.get_text() for t in ax.get_xticklabels()] == ["random", "loso"]
    assert any(line.get_ydata()[0] == 0.25 for line in ax.get_lines())


def test_configuration_grid_lays_out_protocols_and_settings_in_run_order() -> None:
    summary = pd.DataFrame(
        {
            "model": ["svm"] * 4 + ["mlp"] * 4,
            "features": ["a"] * 4 + ["b"] * 4,
            "protocol": ["loso", "lopo"] * 4,
            "speaker_norm": [False, False, True, True] * 2,
            "uar": np.arange(8) / 10,
        }
    )
    grid = configuration_grid(summary)
    assert list(grid.index) == ["svm · a", "mlp · b"]
    assert list(grid.columns) == ["loso · raw", "loso · speaker-norm", "lopo · raw", "lopo · speaker-norm"]
    assert grid.loc["mlp · b", "lopo · speaker-norm"] == 0.7
    text = configuration_grid(summary.assign(shown=summary["uar"].map("{:.2f}".format)), value="shown")
    assert text.loc["svm · a", "loso · speaker-norm"] == "0.20"  # text cells are laid out, not averaged
    fig = plot_configurations(summary, chance=0.25)
    assert len(fig.axes) == 2  # heatmap and colour bar


def test_run_experiments_reuses_the_worker_pool_of_feature_extraction() -> None:
    """Experiments run on the session's loky pool (the one extract_features starts), not on a second one."""
    from ser_utils.features import parallel

    table = _separable()
    experiments = [Experiment("toy", "logreg", "loso", speaker_norm=norm) for norm in (False, True)]
    parallel.executor(2).submit(int, 1).result()  # as extract_features leaves it
    first = run_experiments(experiments, {"toy": table}, grid="small", n_jobs=2, progress=False)
    again = run_experiments(experiments, {"toy": table}, grid="small", n_jobs=2, progress=False)
    for e in experiments:
        assert first[e].per_fold["uar"].tolist() == again[e].per_fold["uar"].tolist()


def test_notebook_helpers_name_sets_pair_settings_and_line_up_protocols() -> None:
    from ser_utils.baselines import feature_sets_of, side_by_side, speaker_norm_effect

    assert feature_sets_of(["mfcc_mean", "combined"], "kaggle162+prosody") == ["mfcc_mean", "kaggle162+prosody"]
    assert feature_sets_of(["mfcc_mean", "combined"], None) == ["mfcc_mean"]
    summary = pd.DataFrame(
        {
            "protocol": ["loso"] * 4 + ["random"],
            "model": ["svm", "svm", "mlp", "mlp", "svm"],
            "features": ["f"] * 5,
            "speaker_norm": [False, True, False, True, False],
            "uar": [0.30, 0.40, 0.35, 0.33, 0.60],
            "uar_std": [0.05] * 5,
        }
    )
    effect = speaker_norm_effect(summary)
    assert effect.loc["loso", "helps"] == "1 of 2" and effect.loc["loso", "max"] == pytest.approx(10.0)
    assert speaker_norm_effect(summary[~summary["speaker_norm"]]).empty
    table = side_by_side(summary, {"best": ("f", "svm", True), "raw svm": ("f", "svm", False)}, ["loso", "random"])
    assert table.loc["best", "LOSO"] == "0.400 ± 0.050" and table.loc["best", "RANDOM"] == "—"
    assert (
        table.loc["raw svm", "configuration"] == "svm · f · raw" and table.loc["raw svm", "RANDOM"] == "0.600 ± 0.050"
    )


# ------------------------------------------------------------------------------------------------ late fusion


def test_column_blocks_name_each_set_of_a_combination() -> None:
    meta = _meta()
    a, b = _table(meta, "a", 3), _table(meta, "b", 4, seed=1)
    assert column_blocks(combine_tables([a, b])) == (("a", 0, 3), ("b", 3, 7))
    assert column_blocks(a) == (("a", 0, 3),)


def test_late_fusion_averages_one_tuned_model_per_set() -> None:
    meta = _meta(n_speakers=4, n_sentences=4)
    y = meta["emotion"].to_numpy()
    rng = np.random.default_rng(0)
    codes = pd.factorize(y, sort=True)[0]
    informative = rng.normal(size=(len(y), 3)) + 3.0 * codes[:, None]  # set "a" knows the emotion
    noise = rng.normal(size=(len(y), 40))  # set "b" knows nothing
    X = np.hstack([informative, noise])
    fusion = LateFusion((("a", 0, 3), ("b", 3, 43)), grid="small").fit(X, y, meta=meta)
    assert list(fusion.classes_) == sorted(EMOTIONS) and len(fusion.members_) == 2
    a, b = (m.predict_proba(X[:, s]) for m, s in zip(fusion.members_, (slice(0, 3), slice(3, 43))))
    np.testing.assert_allclose(fusion.predict_proba(X), (a + b) / 2)  # equal weight, whatever the width
    assert (fusion.predict(X) == y).mean() > 0.9
    assert clone(fusion).get_params()["blocks"] == (("a", 0, 3), ("b", 3, 43))  # an estimator like any other
    with pytest.raises(ValueError, match="at least one block"):
        LateFusion(()).fit(X, y)


def test_fusion_runs_as_an_experiment_on_a_combined_table() -> None:
    meta = _meta(n_speakers=4, n_sentences=4)
    combined = combine_tables([_table(meta, "a", 3), _table(meta, "b", 5, seed=1)])
    experiment = Experiment(combined.feature_set, "late_fusion", "loso", speaker_norm=True)
    result = run_experiments([experiment], {combined.feature_set: combined}, grid="small")[experiment]
    assert result.model == "late_fusion" and len(result.per_fold) == 4
    assert {"p_" + e for e in EMOTIONS} <= set(result.predictions.columns)  # probabilities were averaged
    with pytest.raises(ValueError, match="combined table"):
        tuned_model("late_fusion")


def test_the_strong_reference_is_a_fusion_of_several_sets_and_a_logistic_regression_on_one() -> None:
    """fusion_sets: several sets fuse late on their side-by-side table; one set is its logistic regression,
    which scores what a fusion of that set alone scores. Both speaker-normalised, one per protocol."""
    assert fusion_experiments([], ["loso"]) == [] and fusion_table([]) is None
    assert fusion_table(["a"]) == "a" and fusion_table(["a", "b"]) == "a+b"  # what notebook 04 extracts
    assert fusion_experiments(["a", "b"], ["loso", "lopo"]) == [
        Experiment("a+b", "late_fusion", p, speaker_norm=True) for p in ("loso", "lopo")
    ]
    (single,) = fusion_experiments(["a"], ["loso"])
    assert single == Experiment("a", "logreg", "loso", speaker_norm=True)
    meta = _meta(n_speakers=4, n_sentences=4)
    table = _table(meta, "a", 6)
    alone = Experiment("a", "late_fusion", "loso", speaker_norm=True)
    results = run_experiments([single, alone], {"a": table}, grid="default")
    columns = ["source_id", "pred", *("p_" + e for e in EMOTIONS)]
    pd.testing.assert_frame_equal(results[single].predictions[columns], results[alone].predictions[columns])
    assert results[single].per_fold["uar"].tolist() == results[alone].per_fold["uar"].tolist()


def test_row_space_gives_a_linear_model_the_same_function_from_fewer_coordinates() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(EMOTIONS, 10)
    X = rng.normal(size=(len(y), 300)) + 0.5 * pd.factorize(y, sort=True)[0][:, None]  # 40 rows, 300 columns
    test = rng.normal(size=(15, 300)) + 0.5
    spanned = make_model("logreg").set_params(logreg__C=0.01, logreg__tol=1e-10).fit(X, y)  # has the step
    plain = make_model("logreg").set_params(span="passthrough", logreg__C=0.01, logreg__tol=1e-10).fit(X, y)
    assert spanned.named_steps["span"].transform(X).shape == (40, 39)  # 39 (40 centred rows) instead of 300
    span = RowSpace()
    np.testing.assert_allclose(span.fit_transform(X), span.transform(X), atol=1e-9)  # its shortcut: the same rows
    basis = span.rows_.T @ span.weights_
    np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-9)  # orthonormal: the same penalty
    np.testing.assert_allclose(spanned.predict_proba(test), plain.predict_proba(test), atol=1e-4)
    narrow = rng.normal(size=(50, 5))
    np.testing.assert_array_equal(RowSpace().fit(narrow).transform(narrow), narrow)  # fewer columns: left alone
    np.testing.assert_array_equal(RowSpace().fit_transform(narrow), narrow)


def test_pooled_twins_train_on_another_corpus_and_pool_effect_pairs_them() -> None:
    table = _separable(n_speakers=4)
    other = _separable(n_speakers=5)
    other.meta = other.meta.assign(
        speaker="other_" + other.meta["speaker"], utt_id="other/" + other.meta["utt_id"], corpus="other"
    )
    other.meta["source_id"] = other.meta["utt_id"]
    experiments = [
        Experiment("toy", m, p, norm) for m in ("svm", "mlp") for p in ("loso", "lopo") for norm in (False, True)
    ]
    twins = pooled_twins(experiments, "other")
    assert twins == [Experiment("toy", "svm", "loso", True, pool="other")]  # speaker-normalised LOSO, svm/logreg
    assert pooled_twins(experiments, "") == []
    assert "+ other in training" in twins[0].name and "clips of other" in twins[0].notes
    alone = run_experiments(experiments[:2], {"toy": table}, grid="small", progress=False)
    pooled = run_experiments(twins, {"toy": table}, pools={"toy": other}, grid="small", progress=False)
    n_alone = alone[experiments[1]].per_fold["n_train"]
    assert (pooled[twins[0]].per_fold["n_train"] == n_alone + len(other.meta)).all()
    effect = pool_effect(results_table(alone), results_table(pooled))
    assert effect.index.tolist() == [("svm", "toy")]
    row = effect.iloc[0]
    assert row["alone"] == pytest.approx(results_table(alone)["uar"].iloc[1])
    assert row["Δ (points)"] == pytest.approx(100 * (row["pooled"] - row["alone"]))
    with pytest.raises(ValueError, match="no feature table"):
        run_experiments(twins, {"toy": table}, progress=False)  # a pooled experiment needs its pool's table
    with pytest.raises(ValueError, match="leaky recipe takes no pool"):
        run_experiments([Experiment("toy", "svm", "leaky", pool="other")], {"toy": table}, pools={"toy": other})
