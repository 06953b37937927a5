"""Transfer learning: pre-training, zero-shot on shared emotions, fine-tuning inside the target's folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("keras")

from ser_utils import training  # noqa: E402
from ser_utils.audio import AudioConfig  # noqa: E402
from ser_utils.features import FeatureTable  # noqa: E402
from ser_utils.training import TrainConfig  # noqa: E402
from ser_utils.transfer import (STRATEGIES, cross_corpus, cross_corpus_dataset, default_source, fine_tune_cv, gains,  # noqa: E402
                                last_block, load_available, pretrain, shared_emotions, summary_table,
                                unfreeze_last_block, with_new_head, zero_shot)

FAST = TrainConfig(epochs=4, batch_size=16, patience=2, reduce_lr_patience=1, val_fraction=0.34, deterministic=False)
PARAMS = {"filters": 8}


def corpus_table(corpus: str, emotions: tuple[str, ...], *, speakers: int = 3, sentences: int = 3, copies: int = 0,
                 seed: int = 0, shift: float = 0.0) -> FeatureTable:
    """A 12-value feature table: each emotion has its own direction (shared across corpora), speakers an offset."""
    rng = np.random.default_rng(seed)
    directions = {e: np.random.default_rng(100 + i).normal(0, 1, 12) for i, e in
                  enumerate(("angry", "happy", "neutral", "sad", "fearful", "disgust"))}
    rows, X = [], []
    for s in range(speakers):
        for p in range(sentences):
            for e in emotions:
                utt = f"{corpus}_s{s}_p{p}_{e}"
                for c in range(copies + 1):
                    rows.append({"utt_id": utt if c == 0 else f"{utt}#noise{c}", "source_id": utt, "corpus": corpus,
                                 "speaker": f"{corpus}_s{s}", "sentence": f"p{p}", "emotion": e,
                                 "augmentation": "" if c == 0 else "noise"})
                    X.append(2.0 * directions[e] + rng.normal(0, 1, 12) + 0.3 * s + shift)
    return FeatureTable(X=np.asarray(X, np.float32), meta=pd.DataFrame(rows), skipped=pd.DataFrame(),
                        feature_names=None, feature_set="kaggle162", kind="vector", params={}, audio=AudioConfig(),
                        config_key=f"toy-{corpus}")


@pytest.fixture(scope="module")
def source():
    table = corpus_table("src", ("angry", "happy", "neutral", "sad"), speakers=4)
    return table, pretrain(table, "cnn1", params=PARAMS, config=FAST.replace(epochs=15, patience=5), dataset="src")


def test_default_source_and_shared_emotions() -> None:
    assert default_source("demo") == "demo-ravdess+demo-cremad"
    assert default_source("emovo") == "ravdess+cremad"
    assert shared_emotions(["sad", "angry", "calm"], ["angry", "sad", "disgust"]) == ["angry", "sad"]


def test_load_available_names_what_is_missing(tmp_path) -> None:
    found = load_available("demo-cremad+emovo+tess", tmp_path, synthetic_size="small")
    assert found.present == ["demo-cremad"] and set(found.missing) == {"emovo", "tess"}
    assert found.dataset is not None and set(found.dataset.manifest["corpus"]) == {"demo-cremad"}
    assert "emovo" in found.message() and "using 'demo-cremad'" in found.message()
    nothing = load_available("emovo", tmp_path)
    assert nothing.dataset is None and nothing.name is None and "none of the corpora" in nothing.message()
    # cross-corpus: both groups in one dataset, on the emotions they share (RAVDESS calm merged into neutral)
    ravdess = load_available("demo-ravdess", tmp_path, synthetic_size="small", merge={"calm": "neutral"})
    both, common = cross_corpus_dataset(ravdess, found)
    assert common == sorted(set(ravdess.dataset.manifest["emotion"]) & set(found.dataset.manifest["emotion"]))
    assert "surprised" in set(ravdess.dataset.manifest["emotion"]) and "surprised" not in common
    assert set(both.manifest["emotion"]) == set(common) and set(both.manifest["corpus"]) == {"demo-ravdess", "demo-cremad"}
    assert len(both.manifest) == ravdess.dataset.manifest["emotion"].isin(common).sum() + \
        found.dataset.manifest["emotion"].isin(common).sum()
    with pytest.raises(ValueError, match="at least one training and one test corpus"):
        cross_corpus_dataset(ravdess, nothing)


def test_zero_shot_scores_shared_emotions_per_speaker(source) -> None:
    _, trained = source
    target = corpus_table("tgt", ("angry", "sad", "disgust"), seed=1)
    result = zero_shot(trained, target, config=FAST)
    assert result.labels == ["angry", "sad"] and result.protocol == "zero-shot"
    assert set(result.predictions["true"]) == {"angry", "sad"}  # disgust is not a source emotion: left out
    assert list(result.per_fold["fold"]) == [f"speaker tgt_s{i}" for i in range(3)]
    assert (result.per_fold["n_test"] == 6).all()
    np.testing.assert_allclose(result.predictions[["p_angry", "p_sad"]].sum(axis=1), 1.0, rtol=1e-5)
    assert result.summary().loc["uar", "mean"] > 0.8  # shared emotion directions: the source model transfers


def test_new_head_copies_weights_and_freezes_all_but_the_output(source) -> None:
    _, trained = source
    network = with_new_head(trained, 3)
    assert network.output_shape[-1] == 3
    assert all(not w.any() for w in network.get_layer("emotion").get_weights())  # zero-initialised: uniform start
    probabilities = training.predict_proba(network, [np.asarray(source[0].X[:4])])
    np.testing.assert_allclose(probabilities, 1 / 3, rtol=1e-6)
    np.testing.assert_array_equal(network.get_layer("conv").get_weights()[0], trained.model.get_layer("conv").get_weights()[0])
    assert [layer.name for layer in network.layers if layer.trainable and layer.weights] == ["emotion"]
    assert [layer.name for layer in last_block(network)][0] == "conv"
    assert "conv" in unfreeze_last_block(network) and network.get_layer("conv").trainable


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_fine_tuning_trains_on_training_folds_only(source, strategy, monkeypatch) -> None:
    _, trained = source
    target = corpus_table("tgt", ("angry", "sad", "disgust"), seed=1, copies=1)
    meta = target.meta
    seen = []
    real_fit = training.fit_network

    def spy(model_name, X_train, y_train, n_classes, **kwargs):
        seen.append((len(X_train[0]), kwargs.get("model") is not None, kwargs.get("learning_rate")))
        return real_fit(model_name, X_train, y_train, n_classes, **kwargs)

    monkeypatch.setattr(training, "fit_network", spy)
    monkeypatch.setattr("ser_utils.transfer.fit_network", spy)
    result = fine_tune_cv(trained, target, "loso", strategy=strategy, experiment=strategy, config=FAST,
                          use_augmented=True, progress=False)
    assert list(result.per_fold["fold"]) == [f"speaker tgt_s{i}" for i in range(3)]
    assert result.labels == ["angry", "disgust", "sad"]  # the target's emotions: a new head
    assert result.predictions["source_id"].is_unique and len(result.predictions) == meta["source_id"].nunique()
    # each fold: 1 training speaker left after the test and validation speakers, with its copies
    assert all(n == 18 for n, _, _ in seen)
    starts_pretrained = [pre for _, pre, _ in seen]
    if strategy == "scratch":
        assert not any(starts_pretrained) and len(seen) == 3
    elif strategy == "head":
        assert all(starts_pretrained) and len(seen) == 3
    else:  # head, then the last block at a tenth of the learning rate
        assert len(seen) == 6 and [lr for _, _, lr in seen[1::2]] == [pytest.approx(FAST.learning_rate * 0.1)] * 3
        assert set(result.histories["speaker tgt_s0"]["stage"]) == {"head", "last block"}


def test_fine_tuning_checks_features_and_strategy(source) -> None:
    _, trained = source
    wrong = corpus_table("tgt", ("angry", "sad"), seed=1)
    wrong.X = wrong.X[:, :10]
    with pytest.raises(ValueError, match="differ from the pre-trained"):
        fine_tune_cv(trained, wrong, "loso", strategy="head", experiment="x", config=FAST)
    with pytest.raises(ValueError, match="unknown strategy"):
        fine_tune_cv(trained, corpus_table("tgt", ("angry", "sad")), "loso", strategy="freeze", experiment="x")
    with pytest.raises(ValueError, match="pre-trained"):
        fine_tune_cv(None, corpus_table("tgt", ("angry", "sad")), "loso", strategy="head", experiment="x")


def test_summary_table_and_gains(source) -> None:
    _, trained = source
    target = corpus_table("tgt", ("angry", "sad", "neutral"), seed=2)
    results = {(s, False, "loso"): fine_tune_cv(trained, target, "loso", strategy=s, experiment=s, config=FAST,
                                                progress=False) for s in ("head", "scratch")}
    table = summary_table(results, transfer="head", protocols=("loso", "lopo"))
    assert list(table.index) == ["target only", "transfer", "augmentation", "transfer + augmentation"]
    assert list(table.columns) == ["LOSO", "LOPO"]
    assert table.loc["transfer", "LOPO"] == "—" and table.loc["augmentation", "LOSO"] == "—"
    mean = results[("head", False, "loso")].summary().loc["uar", "mean"]
    assert table.loc["transfer", "LOSO"].startswith(f"{mean:.3f} ± ")
    delta = gains(results, transfer="head")
    assert delta["transfer − target only"] == pytest.approx(
        mean - results[("scratch", False, "loso")].summary().loc["uar", "mean"])
    assert np.isnan(delta["transfer + aug − augmentation"])


def test_cross_corpus_trains_on_one_group_and_tests_on_the_other() -> None:
    a = corpus_table("a", ("angry", "sad"), speakers=3)
    b = corpus_table("b", ("angry", "sad"), speakers=2, seed=3)
    both = FeatureTable(X=np.vstack([a.X, b.X]), meta=pd.concat([a.meta, b.meta], ignore_index=True),
                        skipped=pd.DataFrame(), feature_names=None, feature_set="kaggle162", kind="vector", params={},
                        audio=AudioConfig(), config_key="toy-ab")
    result = cross_corpus(both, "cnn1", train_corpora=["a"], test_corpora=["b"], experiment="a → b", params=PARAMS,
                          config=FAST, progress=False)
    assert len(result.per_fold) == 1 and result.per_fold["n_test"].iloc[0] == len(b.meta)
    assert set(result.predictions["source_id"]) == set(b.meta["source_id"])
