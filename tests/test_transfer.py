"""Transfer learning: pre-training (cached on disk), zero-shot on shared emotions, fine-tuning inside the target's folds.

Fine-tuning and zero-shot are estimators (:class:`~ser_utils.estimators.FineTuner`,
:class:`~ser_utils.estimators.ZeroShot`) run by the one loop, :func:`ser_utils.evaluation.cross_validate`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("keras")

from sklearn.base import clone  # noqa: E402

from ser_utils import estimators, modelfile  # noqa: E402
from ser_utils.audio import AudioConfig  # noqa: E402
from ser_utils.estimators import FineTuner, NetworkClassifier, ZeroShot, last_block, unfreeze_last_block, with_new_head  # noqa: E402
from ser_utils.evaluation import cross_validate  # noqa: E402
from ser_utils.features import FeatureTable  # noqa: E402
from ser_utils.training import TrainConfig, predict_proba  # noqa: E402
from ser_utils.transfer import (  # noqa: E402
    STRATEGIES,
    cross_corpus_dataset,
    default_source,
    gains,
    load_available,
    load_pool,
    per_corpus,
    pretrain,
    pretraining_key,
    seed_runs,
    shared_emotions,
    source_subsets,
    strategy_run,
    subset_runs,
    summary_table,
)

FAST = TrainConfig(epochs=3, batch_size=16, patience=2, reduce_lr_patience=1, val_fraction=0.34, deterministic=False)
PRETRAIN = FAST.replace(epochs=15, patience=5)
PARAMS = {"filters": 8}


def corpus_table(
    corpus: str,
    emotions: tuple[str, ...],
    *,
    speakers: int = 3,
    sentences: int = 3,
    copies: int = 0,
    seed: int = 0,
    shift: float = 0.0,
) -> FeatureTable:
    """A 12-value feature table: each emotion has its own direction (shared across corpora), speakers an offset."""
    rng = np.random.default_rng(seed)
    directions = {
        e: np.random.default_rng(100 + i).normal(0, 1, 12)
        for i, e in enumerate(("angry", "happy", "neutral", "sad", "fearful", "disgust"))
    }
    rows, X = [], []
    for s in range(speakers):
        for p in range(sentences):
            for e in emotions:
                utt = f"{corpus}_s{s}_p{p}_{e}"
                for c in range(copies + 1):
                    rows.append(
                        {
                            "utt_id": utt if c == 0 else f"{utt}#noise{c}",
                            "source_id": utt,
                            "corpus": corpus,
                            "speaker": f"{corpus}_s{s}",
                            "sentence": f"p{p}",
                            "emotion": e,
                            "augmentation": "" if c == 0 else "noise",
                        }
                    )
                    X.append(2.0 * directions[e] + rng.normal(0, 1, 12) + 0.3 * s + shift)
    return FeatureTable(
        X=np.asarray(X, np.float32),
        meta=pd.DataFrame(rows),
        skipped=pd.DataFrame(),
        feature_names=None,
        feature_set="kaggle162",
        kind="vector",
        params={},
        audio=AudioConfig(),
        config_key=f"toy-{corpus}",
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("pretrained")


@pytest.fixture(scope="module")
def source_table() -> FeatureTable:
    return corpus_table("src", ("angry", "happy", "neutral", "sad"), speakers=4)


@pytest.fixture(scope="module")
def source(source_table, cache):
    """(source table, the network pre-trained on it)."""
    return source_table, pretrain(source_table, "cnn1", params=PARAMS, config=PRETRAIN, dataset="src", cache_root=cache)


def _target(emotions=("angry", "sad", "disgust"), **kwargs) -> FeatureTable:
    return corpus_table("tgt", emotions, seed=kwargs.pop("seed", 1), **kwargs)


def test_default_source_and_shared_emotions() -> None:
    assert default_source("demo") == "demo-ravdess+demo-cremad"  # every other synthetic layout
    assert default_source("emovo") == "ravdess+cremad+savee+tess+emodb"  # every other corpus, pooled
    assert default_source("emodb") == "emovo+ravdess+cremad+savee+tess"
    assert default_source("superset") == "emovo+emodb"  # none of the target's own components
    assert shared_emotions(["sad", "angry", "calm"], ["angry", "sad", "disgust"]) == ["angry", "sad"]


def test_load_available_names_what_is_missing(tmp_path) -> None:
    found = load_available("demo-cremad+emovo+tess", tmp_path, synthetic_size="small")
    assert found.present == ["demo-cremad"] and set(found.missing) == {"emovo", "tess"}
    assert found.dataset is not None and set(found.dataset.manifest["corpus"]) == {"demo-cremad"}
    assert "emovo" in found.message() and "using 'demo-cremad'" in found.message()
    nothing = load_available("emovo", tmp_path)
    assert nothing.dataset is None and nothing.name is None and "none of the corpora" in nothing.message()
    # a pool: "all" is every corpus but the target's own, "" is none
    everything_else = load_pool("all", "emovo", tmp_path)
    assert set(everything_else.missing) == {"ravdess", "cremad", "savee", "tess", "emodb"}
    assert load_pool("", "emovo", tmp_path).dataset is None and load_pool("", "emovo", tmp_path).name is None
    # cross-corpus: both groups in one dataset, on the emotions they share (RAVDESS calm merged into neutral)
    ravdess = load_available("demo-ravdess", tmp_path, synthetic_size="small", merge={"calm": "neutral"})
    both, common = cross_corpus_dataset(ravdess, found)
    assert common == sorted(set(ravdess.dataset.manifest["emotion"]) & set(found.dataset.manifest["emotion"]))
    assert "surprised" in set(ravdess.dataset.manifest["emotion"]) and "surprised" not in common
    assert set(both.manifest["emotion"]) == set(common) and set(both.manifest["corpus"]) == {
        "demo-ravdess",
        "demo-cremad",
    }
    assert (
        len(both.manifest)
        == ravdess.dataset.manifest["emotion"].isin(common).sum() + found.dataset.manifest["emotion"].isin(common).sum()
    )
    with pytest.raises(ValueError, match="at least one training and one test corpus"):
        cross_corpus_dataset(ravdess, nothing)


# ------------------------------------------------------------------------------------------------ pre-training


def test_pretrain_saves_a_described_network(source, cache) -> None:
    table, trained = source
    assert not trained.reused and trained.path.parent == cache and trained.path.name.startswith("cnn1-")
    assert trained.path.is_file() and modelfile.description_path(trained.path).is_file()
    assert trained.labels == ["angry", "happy", "neutral", "sad"]
    assert trained.info["clips"] == len(table) and trained.info["speakers"] == 4 and trained.info["dataset"] == "src"
    assert "history" not in trained.info and len(trained.history) == trained.info["epochs"]
    best = trained.info["best_epoch"]  # its held-out source speakers, at the epoch it kept
    assert trained.validation_accuracy == pytest.approx(trained.history["val_accuracy"].iloc[best - 1])
    assert trained.description["config"]["epochs"] == PRETRAIN.epochs and trained.description["params"] == PARAMS


def test_pretrain_again_reads_the_cache_and_other_settings_get_another_key(source, cache, monkeypatch) -> None:
    table, first = source
    mtime = first.path.stat().st_mtime

    def no_training(*args, **kwargs):
        raise AssertionError("the second pretrain() call trained again")

    monkeypatch.setattr("ser_utils.transfer.fit_final", no_training)
    again = pretrain(table, "cnn1", params=PARAMS, config=PRETRAIN, dataset="src", cache_root=cache)
    assert again.reused and again.path == first.path and again.path.stat().st_mtime == mtime
    assert again.description == first.description
    # a mapping of the same settings is the same key
    assert pretrain(table, "cnn1", params=PARAMS, config=PRETRAIN.to_dict(), cache_root=cache).path == first.path
    key = pretraining_key([table], "cnn1", PARAMS, PRETRAIN, False)
    assert first.path.name == f"cnn1-{key}.keras"
    assert (
        pretraining_key([table], "cnn1", PARAMS, PRETRAIN.replace(verbose=1), False) == key
    )  # verbosity changes nothing
    changed = {
        "config": pretraining_key([table], "cnn1", PARAMS, PRETRAIN.replace(epochs=16), False),
        "learning rate": pretraining_key([table], "cnn1", PARAMS, PRETRAIN.replace(learning_rate=3e-3), False),
        "params": pretraining_key([table], "cnn1", {"filters": 16}, PRETRAIN, False),
        "network": pretraining_key([table], "cnn4", PARAMS, PRETRAIN, False),
        "speaker_norm": pretraining_key([table], "cnn1", PARAMS, PRETRAIN, True),
        "features": pretraining_key(
            [corpus_table("src", ("angry", "happy", "neutral", "sad"), speakers=4, seed=5)],
            "cnn1",
            PARAMS,
            PRETRAIN,
            False,
        ),
    }
    assert key not in changed.values() and len(set(changed.values())) == len(changed)


def test_an_unreadable_cached_file_is_trained_again(source_table, tmp_path) -> None:
    tiny = FAST.replace(epochs=1)
    first = pretrain(source_table, "cnn1", params=PARAMS, config=tiny, cache_root=tmp_path)
    modelfile.description_path(first.path).write_text("{broken")
    again = pretrain(source_table, "cnn1", params=PARAMS, config=tiny, cache_root=tmp_path)
    assert not again.reused and again.path == first.path and again.labels == first.labels


# ------------------------------------------------------------------------------------------------ zero-shot


def test_zero_shot_scores_shared_emotions_per_speaker(source) -> None:
    _, trained = source
    target = _target()
    shared = shared_emotions(trained.labels, target.meta["emotion"].unique())
    assert shared == ["angry", "sad"]
    on_shared = target.take(np.flatnonzero(target.meta["emotion"].isin(shared)))
    result = cross_validate(ZeroShot(trained.path), on_shared, "loso", experiment="zero-shot", progress=False)
    assert result.labels == ["angry", "sad"] and result.model == "cnn1"
    assert set(result.predictions["true"]) == {"angry", "sad"}  # disgust is not a source emotion: left out
    assert list(result.per_fold["fold"]) == [f"speaker tgt_s{i}" for i in range(3)]
    assert (result.per_fold["n_test"] == 6).all() and (result.per_fold["epochs"] == 0).all()  # nothing trained
    assert not result.histories
    np.testing.assert_allclose(result.predictions[["p_angry", "p_sad"]].sum(axis=1), 1.0, rtol=1e-5)
    assert result.summary().loc["uar", "mean"] > 0.8  # shared emotion directions: the source model transfers


def test_zero_shot_restricts_probabilities_to_the_shared_emotions(source) -> None:
    _, trained = source
    target = _target()  # disgust included: the model can never predict it
    model = ZeroShot(trained.path).fit(target.X, target.meta["emotion"])
    assert list(model.classes_) == ["angry", "sad"]
    proba = model.predict_proba(target.X)
    assert proba.shape == (len(target), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # the network's own probabilities of those two emotions, renormalised
    network, description = modelfile.load(trained.path)
    raw = predict_proba(network, [np.asarray(target.X)])[:, [description["labels"].index(e) for e in ("angry", "sad")]]
    np.testing.assert_allclose(proba, raw / raw.sum(axis=1, keepdims=True), rtol=1e-6)
    assert set(model.predict(target.X)) <= {"angry", "sad"}
    copy = clone(model)
    assert copy.get_params() == {"source": trained.path} and not hasattr(copy, "classes_")
    with pytest.raises(ValueError, match="share none"):
        ZeroShot(trained.path).fit(target.X[:3], ["disgust", "calm", "boredom"])


# ------------------------------------------------------------------------------------------------ fine-tuning


def test_new_head_copies_weights_and_freezes_all_but_the_output(source) -> None:
    table, trained = source
    source_network, description = modelfile.load(trained.path)
    network = with_new_head(source_network, description, 3)
    assert network.output_shape[-1] == 3
    assert all(not w.any() for w in network.get_layer("emotion").get_weights())  # zero-initialised: uniform start
    probabilities = predict_proba(network, [np.asarray(table.X[:4])])
    np.testing.assert_allclose(probabilities, 1 / 3, rtol=1e-6)
    np.testing.assert_array_equal(
        network.get_layer("conv").get_weights()[0], source_network.get_layer("conv").get_weights()[0]
    )
    assert [layer.name for layer in network.layers if layer.trainable and layer.weights] == ["emotion"]
    assert [layer.name for layer in last_block(network)][0] == "conv"
    assert "conv" in unfreeze_last_block(network) and network.get_layer("conv").trainable


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_trains_on_training_folds_only(source, strategy, monkeypatch) -> None:
    """What notebook 08 runs for each strategy (strategy_run): pooled training, fine-tuning, the target only."""
    source_table, trained = source
    # 4 target speakers: each fold trains on 3, one of them whole for validation (validation_split needs >= 3)
    target = _target(copies=1, speakers=4)
    seen = []
    real_fit = estimators.fit_network

    def spy(model_name, X_train, y_train, n_classes, **kwargs):
        seen.append((len(X_train[0]), kwargs.get("model") is not None, kwargs.get("learning_rate"), n_classes))
        return real_fit(model_name, X_train, y_train, n_classes, **kwargs)

    monkeypatch.setattr(estimators, "fit_network", spy)
    run = strategy_run(strategy, "cnn1", PARAMS, FAST.replace(epochs=2), pretrained=trained.path, source=source_table)
    result = cross_validate(
        run.pop("estimator"), target, "loso", experiment=strategy, max_folds=2, progress=False, **run
    )
    assert list(result.per_fold["fold"]) == ["speaker tgt_s0", "speaker tgt_s1"]
    assert result.labels == ["angry", "disgust", "sad"]  # the target's emotions: a new head
    assert result.predictions["source_id"].is_unique and len(result.predictions) == 2 * 9
    # pooled: the source clips of the target's emotions (angry, sad: 4 speakers × 3 sentences each) train too
    pooled = 4 * 3 * 2 if strategy == "pooled" else 0
    assert (result.per_fold["n_train"] == 3 * 9 * 2 + pooled).all()  # 3 training speakers, each clip with its copy
    # each fit: 2 training speakers left after the test and validation speakers, with their copies (and the pool)
    assert all(n == 2 * 9 * 2 + pooled and k == 3 for n, _, _, k in seen)
    starts_pretrained = [pre for _, pre, _, _ in seen]
    if strategy in ("scratch", "pooled"):
        assert not any(starts_pretrained) and len(seen) == 2
    elif strategy == "head":
        assert all(starts_pretrained) and len(seen) == 2
        assert set(result.histories["speaker tgt_s0"]["stage"]) == {"head"}
    else:  # head, then the last block at a tenth of the learning rate
        assert len(seen) == 4 and [lr for _, _, lr, _ in seen[1::2]] == [pytest.approx(FAST.learning_rate * 0.1)] * 2
        assert set(result.histories["speaker tgt_s0"]["stage"]) == {"head", "last block"}
    assert set(result.histories) == set(result.per_fold["fold"]) and (result.per_fold["s/epoch"] > 0).all()
    np.testing.assert_allclose(result.predictions[["p_angry", "p_disgust", "p_sad"]].sum(axis=1), 1.0, rtol=1e-5)


def test_fine_tuner_is_clonable_and_leaves_the_source_untouched(source) -> None:
    _, trained = source
    tuner = FineTuner(trained.path, "last_block", FAST, lr_factor=0.2)
    copy = clone(tuner)
    assert copy.get_params() == tuner.get_params() and copy is not tuner
    assert copy.model == "cnn1"
    before = trained.path.read_bytes()
    target = _target(emotions=("angry", "sad"))
    fitted = clone(tuner).fit(target.X, target.meta["emotion"], meta=target.meta)
    assert list(fitted.classes_) == ["angry", "sad"] and not hasattr(copy, "classes_")
    assert trained.path.read_bytes() == before


def test_fine_tuning_checks_features_and_strategy(source, tmp_path) -> None:
    _, trained = source
    wrong = _target(emotions=("angry", "sad"))
    wrong.X = wrong.X[:, :10]
    with pytest.raises(ValueError, match="differ from the pre-trained"):
        cross_validate(FineTuner(trained.path, "head", FAST), wrong, "loso", experiment="x", progress=False)
    right = _target(emotions=("angry", "sad"))
    with pytest.raises(ValueError, match="unknown strategy"):
        cross_validate(FineTuner(trained.path, "freeze", FAST), right, "loso", experiment="x", progress=False)
    with pytest.raises(modelfile.ModelFileError, match="not found"):
        cross_validate(
            FineTuner(tmp_path / "nowhere.keras", "head", FAST), right, "loso", experiment="x", progress=False
        )
    with pytest.raises(ValueError, match="needs the source corpora"):
        strategy_run("pooled", "cnn1")
    with pytest.raises(ValueError, match="needs a pre-trained network"):
        strategy_run("last_block", "cnn1")
    with pytest.raises(ValueError, match="unknown transfer strategy 'joint'; valid: pooled, head, last_block"):
        strategy_run("joint", "cnn1")


def test_summary_table_and_gains(source) -> None:
    _, trained = source
    target = _target(emotions=("angry", "sad", "neutral"), seed=2)
    runs = {
        s: strategy_run(s, "cnn1", PARAMS, FAST.replace(epochs=2), pretrained=trained.path) for s in ("head", "scratch")
    }
    results = {
        (s, False, "loso"): cross_validate(run["estimator"], target, "loso", experiment=s, progress=False)
        for s, run in runs.items()
    }
    table = summary_table(results, transfer="head", protocols=("loso", "lopo"))
    assert list(table.index) == ["target only", "transfer"]  # the augmentation rows did not run
    assert list(table.columns) == ["LOSO", "LOPO"]
    assert table.loc["transfer", "LOPO"] == "—"
    mean = results[("head", False, "loso")].summary().loc["uar", "mean"]
    assert table.loc["transfer", "LOSO"].startswith(f"{mean:.3f} ± ")
    assert table.loc["transfer", "LOSO"] == results[("head", False, "loso")].cell()
    delta = gains(results, transfer="head")
    assert delta["transfer − target only"] == pytest.approx(
        mean - results[("scratch", False, "loso")].summary().loc["uar", "mean"]
    )
    assert np.isnan(delta["transfer + aug − augmentation"])


def test_source_subsets_are_nested_subsets_of_the_source_speakers(source_table) -> None:
    subsets = source_subsets(source_table, [3, 1, 4, 9, 2], seed=5)
    assert list(subsets) == [1, 2, 3]  # sorted; 4 (every speaker) and more are the whole source, left out
    chosen = {k: set(t.meta["speaker"]) for k, t in subsets.items()}
    assert [len(v) for v in chosen.values()] == [1, 2, 3]
    assert chosen[1] < chosen[2] < chosen[3]  # each holds the smaller ones: only the number of speakers changes
    for k, table in subsets.items():  # every row of the chosen speakers, no other, inputs with their rows
        rows = source_table.meta["speaker"].isin(chosen[k]).to_numpy()
        assert len(table) == rows.sum()
        np.testing.assert_array_equal(table.X, source_table.X[rows])
    again = source_subsets(source_table, [2], seed=5)[2]
    assert set(again.meta["speaker"]) == chosen[2]  # drawn from the seed
    draws = {frozenset(source_subsets(source_table, [2], seed=s)[2].meta["speaker"]) for s in range(8)}
    assert len(draws) > 1  # other seeds, other speakers
    with pytest.raises(ValueError, match=r"source_speaker_counts=\[0, 2\]: give numbers of source speakers"):
        source_subsets(source_table, [0, 2])


def test_subset_runs_change_only_the_pool_and_the_name(source_table) -> None:
    run = strategy_run("pooled", "cnn1", PARAMS, FAST, source=source_table)
    run.update(protocol="loso", experiment="transfer (pooled) · LOSO", seed=3)
    runs = subset_runs(run, [1, 2, 4], seed=3)
    assert [r["experiment"] for r in runs.values()] == [
        "transfer (pooled, 1 of 4 source speakers) · LOSO",
        "transfer (pooled, 2 of 4 source speakers) · LOSO",
    ]  # 4: the whole source, which the run itself is
    for k, r in runs.items():
        assert r["estimator"] is run["estimator"] and r["seed"] == 3 and r["protocol"] == "loso"
        assert r["pool"].meta["speaker"].nunique() == k
    target = _target(emotions=("angry", "sad", "neutral"), seed=2)
    result = cross_validate(**runs[1], tables=target, progress=False)
    assert result.experiment == "transfer (pooled, 1 of 4 source speakers) · LOSO"
    assert set(result.predictions["source_id"]) == set(target.meta["source_id"])  # the target's clips only are tested


@pytest.mark.parametrize("strategy", ["scratch", "pooled", "head"])
def test_a_reseeded_run_changes_the_training_seed_only(source, strategy) -> None:
    source_table, trained = source
    run = strategy_run(strategy, "cnn1", PARAMS, FAST, pretrained=trained.path, source=source_table)
    run.update(protocol="random", experiment="x · RANDOM", seed=0, max_folds=1)
    key = (strategy, False, "random")
    ((name, again),) = seed_runs({key: run}, [key], [4]).items()
    assert name == (key, 4)
    label = {"scratch": "target only", "pooled": "transfer (pooled)", "head": "transfer (head)"}[strategy]
    assert again["experiment"] == f"{label}, seed 4 · RANDOM"
    assert again["seed"] == 0  # the folds' seed: the same folds (a random split is cut again by another)
    assert again["estimator"] is not run["estimator"] and type(again["estimator"]) is type(run["estimator"])
    assert TrainConfig.from_dict(again["estimator"].config) == FAST.replace(seed=4)
    assert TrainConfig.from_dict(run["estimator"].config).seed == 0  # the original is untouched
    assert again.get("pool") is run.get("pool") and again["max_folds"] == 1
    if strategy == "pooled":  # the same test clips, other predictions: the seed reached the training
        target = _target(emotions=("angry", "sad", "neutral"), seed=2)
        first, second = (cross_validate(**r, tables=target, progress=False) for r in (run, again))
        assert first.predictions["source_id"].tolist() == second.predictions["source_id"].tolist()
        probabilities = [c for c in first.predictions if c.startswith("p_")]
        assert not np.allclose(first.predictions[probabilities], second.predictions[probabilities])


def test_cross_corpus_trains_on_one_group_and_tests_on_the_other() -> None:
    a = corpus_table("a", ("angry", "sad"), speakers=3)
    b = corpus_table("b", ("angry", "sad"), speakers=2, seed=3)
    c = corpus_table("c", ("angry", "sad"), speakers=1, seed=4)
    parts = [a, b, c]
    both = FeatureTable(
        X=np.vstack([t.X for t in parts]),
        meta=pd.concat([t.meta for t in parts], ignore_index=True),
        skipped=pd.DataFrame(),
        feature_names=None,
        feature_set="kaggle162",
        kind="vector",
        params={},
        audio=AudioConfig(),
        config_key="toy-abc",
    )
    result = cross_validate(
        NetworkClassifier("cnn1", PARAMS, FAST.replace(epochs=2)),
        both,
        "cross_corpus",
        experiment="a → b+c",
        train_corpora=["a"],
        test_corpora=["b", "c"],
        progress=False,
    )
    assert len(result.per_fold) == 1 and result.per_fold["n_test"].iloc[0] == len(b.meta) + len(c.meta)
    assert result.per_fold["n_train"].iloc[0] == len(a.meta)
    assert set(result.predictions["source_id"]) == set(b.meta["source_id"]) | set(c.meta["source_id"])
    by_corpus = per_corpus(result, both.meta)
    assert list(by_corpus.index) == ["b", "c"] and by_corpus["n_test"].tolist() == [len(b.meta), len(c.meta)]
