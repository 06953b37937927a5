"""Parameter layering, -p parsing and validation against the notebooks' parameters cells."""

from __future__ import annotations

import pytest

from ser_utils.params import ParameterError, ParameterSet, declared_parameters, load_yaml, parse_overrides, validate

DECLARED = {
    "00_eda": {"dataset": "demo", "seed": 0, "emotions": None, "sample_rate": 16000, "eda_prosody_files": 210},
    "05_cnn": {"dataset": "demo", "seed": 0, "epochs": 30, "learning_rate": 0.001, "quick": False},
}


def test_overrides_are_read_as_yaml() -> None:
    params = parse_overrides(["seed=3", "emotions=[angry, sad]", "learning_rate=1e-4", "05_cnn.epochs=2", "data_dir="])
    assert params.common == {"seed": 3, "emotions": ["angry", "sad"], "learning_rate": 1e-4, "data_dir": None}
    assert params.per_notebook == {"05_cnn": {"epochs": 2}}


@pytest.mark.parametrize("item", ["seed", "=3", "seed: 3"])
def test_malformed_override_is_an_error(item: str) -> None:
    with pytest.raises(ParameterError, match="key=value"):
        parse_overrides([item])


def test_layers_later_wins_and_notebook_sections_merge(tmp_path) -> None:
    (tmp_path / "a.yaml").write_text("seed: 1\nsample_rate: 8000\nnotebooks:\n  05_cnn: {epochs: 5}\n")
    (tmp_path / "b.yaml").write_text("seed: 2\nnotebooks:\n  05_cnn: {learning_rate: 0.01}\n")
    params = ParameterSet()
    params.update(load_yaml(tmp_path / "a.yaml"))
    params.update(load_yaml(tmp_path / "b.yaml"))
    assert params.common == {"seed": 2, "sample_rate": 8000}
    assert params.per_notebook["05_cnn"] == {"epochs": 5, "learning_rate": 0.01}
    # each notebook receives only what it declares
    assert params.for_notebook("05_cnn", DECLARED["05_cnn"]) == {"seed": 2, "epochs": 5, "learning_rate": 0.01}
    assert params.for_notebook("00_eda", DECLARED["00_eda"]) == {"seed": 2, "sample_rate": 8000}


def test_a_later_flat_key_beats_an_earlier_notebook_section(tmp_path) -> None:
    (tmp_path / "demo.yaml").write_text("notebooks:\n  05_cnn: {epochs: 30, learning_rate: 0.01}\n")
    params = ParameterSet()
    params.update(load_yaml(tmp_path / "demo.yaml"))  # params/<dataset>.yaml
    params.update(parse_overrides(["epochs=3"]))  # run_all.py -p epochs=3
    assert params.for_notebook("05_cnn", DECLARED["05_cnn"]) == {"epochs": 3, "learning_rate": 0.01}
    params.update(parse_overrides(["05_cnn.epochs=4"]))  # a notebook key in the same or a later layer still wins
    assert params.for_notebook("05_cnn", DECLARED["05_cnn"])["epochs"] == 4


def test_misspelled_parameter_fails_with_a_suggestion() -> None:
    with pytest.raises(ParameterError, match=r"unknown parameter 'sed'.*Did you mean 'seed'"):
        validate(parse_overrides(["sed=1"]), DECLARED)


def test_unknown_notebook_and_notebook_parameter() -> None:
    with pytest.raises(ParameterError, match=r"unknown notebook '05_cn'.*Did you mean '05_cnn'"):
        validate(parse_overrides(["05_cn.epochs=1"]), DECLARED)
    with pytest.raises(ParameterError, match=r"notebook 00_eda has no parameter 'epochs'"):
        validate(parse_overrides(["00_eda.epochs=1"]), DECLARED)


@pytest.mark.parametrize("item", ["seed=abc", "epochs=1.5", "quick=1", "emotions_typo=1"])
def test_wrong_types_are_rejected(item: str) -> None:
    with pytest.raises(ParameterError):
        validate(parse_overrides([item]), DECLARED)


@pytest.mark.parametrize("item", ["seed=4", "learning_rate=1", "emotions=[sad]", "emotions=null", "quick=true"])
def test_right_types_pass(item: str) -> None:
    validate(parse_overrides([item]), DECLARED)


def test_bad_yaml_files(tmp_path) -> None:
    with pytest.raises(ParameterError, match="not found"):
        load_yaml(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ParameterError, match="mapping"):
        load_yaml(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("seed: [1, 2\n")
    with pytest.raises(ParameterError, match="not valid YAML"):
        load_yaml(tmp_path / "broken.yaml")


def test_declared_parameters_reads_the_parameters_cell(tmp_path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("seed = 7\nname = 'x'\nlimit = None", metadata={"tags": ["parameters"]})])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, tmp_path / "n.ipynb")
    assert declared_parameters(tmp_path / "n.ipynb") == {"seed": 7, "name": "x", "limit": None}


def test_project_parameter_files_are_valid() -> None:
    """Every key in params/*.yaml is declared by some notebook (a typo there would otherwise go unnoticed)."""
    from run_all import PARAMS_DIR, discover_notebooks

    declared = {p.stem: declared_parameters(p) for p in discover_notebooks()}
    for path in sorted(PARAMS_DIR.glob("*.yaml")):
        validate(load_yaml(path), declared)


MAPPINGS = {
    "06_lstm": {
        "seed": 0,
        "training": {"batch_size": 64, "epochs": 30},
        "model_params": {"bilstm": {"units": 64, "dense": 32}},
        "image_size": [64, 64],
    }
}


def test_a_mapping_parameter_merges_into_the_notebook_default_mapping(tmp_path) -> None:
    (tmp_path / "quick.yaml").write_text(
        "training: {epochs: 2, patience: 1}\nimage_size: [32, 32]\n"
        "notebooks:\n  06_lstm:\n    model_params: {bilstm: {units: 8}, lstm: {units: [4]}}\n"
    )
    params = ParameterSet()
    params.update(load_yaml(tmp_path / "quick.yaml"))
    values = params.for_notebook("06_lstm", MAPPINGS["06_lstm"])
    # the notebook's batch_size survives; epochs from quick wins; patience is added
    assert values["training"] == {"batch_size": 64, "epochs": 2, "patience": 1}
    # nested mappings merge too: bilstm keeps its dense units, lstm is added
    assert values["model_params"] == {"bilstm": {"units": 8, "dense": 32}, "lstm": {"units": [4]}}
    assert values["image_size"] == [32, 32]  # a list is replaced, not merged
    assert "seed" not in values  # nothing set: the notebook's own default applies
    # -p training='{epochs: 5}' keeps quick's patience and the notebook's batch size
    params.update(parse_overrides(["training={epochs: 5}"]))
    assert params.for_notebook("06_lstm", MAPPINGS["06_lstm"])["training"] == {
        "batch_size": 64,
        "epochs": 5,
        "patience": 1,
    }
    params.update(parse_overrides(["06_lstm.training={learning_rate: 1e-4}"]))
    assert params.for_notebook("06_lstm", MAPPINGS["06_lstm"])["training"] == {
        "batch_size": 64,
        "epochs": 5,
        "patience": 1,
        "learning_rate": 1e-4,
    }
    # the notebook's declared defaults are not changed by merging
    assert MAPPINGS["06_lstm"]["training"] == {"batch_size": 64, "epochs": 30}
    assert MAPPINGS["06_lstm"]["model_params"] == {"bilstm": {"units": 64, "dense": 32}}


def test_quick_training_settings_merge_into_every_notebook_that_takes_them() -> None:
    """params/quick.yaml's ``training`` mapping reaches notebooks 05-08 on top of their own defaults."""
    from run_all import PARAMS_DIR, discover_notebooks
    from ser_utils.training import TrainConfig

    quick = load_yaml(PARAMS_DIR / "quick.yaml")
    assert isinstance(quick.common.get("training"), dict) and quick.common["training"]
    params = ParameterSet()
    params.update(quick)
    takers = 0
    for path in discover_notebooks():
        declared = declared_parameters(path)
        if not isinstance(declared.get("training"), dict):
            continue
        takers += 1
        expected = {
            **declared["training"],
            **quick.common["training"],
            **quick.per_notebook.get(path.stem, {}).get("training", {}),
        }
        assert params.for_notebook(path.stem, declared)["training"] == expected, path.stem
        TrainConfig.from_dict(expected)  # every key is a TrainConfig setting
    assert takers >= 4  # 05, 06, 07, 08


def test_a_later_flat_mapping_merges_with_an_earlier_notebook_mapping() -> None:
    params = ParameterSet()
    params.update(parse_overrides(["06_lstm.training={batch_size: 16, patience: 2}"]))  # e.g. params/<dataset>.yaml
    params.update(parse_overrides(["training={epochs: 5}"]))  # then -p training='{epochs: 5}'
    assert params.for_notebook("06_lstm", MAPPINGS["06_lstm"])["training"] == {
        "batch_size": 16,
        "epochs": 5,
        "patience": 2,
    }
