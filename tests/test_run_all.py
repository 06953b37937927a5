"""run_all.py end to end on the synthetic corpus, and its error paths."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import run_all

REPO = Path(run_all.__file__).resolve().parent


def _cli(*args: str) -> subprocess.CompletedProcess:
    """Run run_all.py as a user would, in a subprocess."""
    return subprocess.run(
        [sys.executable, str(REPO / "run_all.py"), *args], capture_output=True, text=True, timeout=900, cwd=REPO
    )


@pytest.fixture(scope="module")
def quick_run(session_tmp: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """One quick run of every notebook on the synthetic default, shared by the checks below."""
    out = session_tmp / "reports-quick"
    result = _cli("--dataset", "demo", "--quick", "--out", str(out))
    return result, out


@pytest.mark.slow
def test_quick_run_renders_every_notebook(quick_run) -> None:
    result, out = quick_run
    assert result.returncode == 0, result.stdout + result.stderr
    for nb in run_all.discover_notebooks():
        html = out / f"{nb.stem}.html"
        assert html.is_file() and (out / nb.name).is_file(), f"{nb.stem} was not rendered"
        executed = nbformat.read(out / nb.name, as_version=4)
        errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{nb.stem} raised: {errors[:1]}"
    index = (out / "index.html").read_text()
    for nb in run_all.discover_notebooks():
        assert f'href="{nb.stem}.html"' in index
    assert "all notebooks ran" in index


@pytest.mark.slow
def test_quick_run_records_metadata_and_headlines(quick_run) -> None:
    result, out = quick_run
    run = json.loads((out / "run.json").read_text())
    assert run["dataset"] == "demo"
    assert run["parameters"]["synthetic_size"] == "small"  # --quick applied params/quick.yaml
    assert len(run["data"]["fingerprint"]) >= 12 and run["data"]["n_files"] > 50
    assert {"numpy", "pandas", "librosa", "papermill"} <= set(run["versions"])
    eda = next(nb for nb in run["notebooks"] if nb["name"] == "00_eda")
    assert eda["status"] == "ok" and eda["duration_s"] > 0
    assert eda["headlines"]["clips"] == run["data"]["n_files"]
    assert eda["headlines"]["data fingerprint"] == run["data"]["fingerprint"]
    # the parameters the notebook actually received are recorded
    assert run["notebook_parameters"]["00_eda"]["eda_prosody_files"] == 28
    assert run["notebook_parameters"]["00_eda"]["reports_dir"] == str(out)


@pytest.mark.slow
def test_quick_run_records_the_seed_the_notebooks_used(quick_run) -> None:
    _, out = quick_run
    run = json.loads((out / "run.json").read_text())
    assert run["seed"] == 0


@pytest.mark.slow
def test_quick_run_html_shows_figures_and_audio(quick_run) -> None:
    _, out = quick_run
    html = (out / "00_eda.html").read_text()
    assert html.count("data:image/png;base64") >= 4  # counts, durations, examples, prosody
    assert html.count("<audio") >= 7  # one player per emotion


@pytest.mark.slow
def test_quick_run_reports_keep_one_line_per_step_and_fold_the_reproducibility_table(quick_run) -> None:
    _, out = quick_run
    for nb in run_all.discover_notebooks():
        executed = nbformat.read(out / nb.name, as_version=4)
        streams = [
            o.get("text", "")
            for c in executed.cells
            if c.cell_type == "code"
            for o in c.outputs
            if o.output_type == "stream"
        ]
        redraws = [line for text in streams for line in text.splitlines() if "%|" in line or "\r" in line]
        assert not redraws, f"{nb.stem} kept progress-bar redraws: {redraws[:3]}"
        html = (out / f"{nb.stem}.html").read_text()
        folded = html.split("<details><summary>Parameters, data fingerprint, code and package versions", 1)
        assert len(folded) == 2, f"{nb.stem} has no folded reproducibility table"
        assert "version: numpy" in folded[1].split("</details>", 1)[0]  # the table is inside the fold
    cnn = nbformat.read(out / "05_cnn.ipynb", as_version=4)  # (features may all come from the cache; folds do not)
    text = "".join(o.get("text", "") for c in cnn.cells if c.cell_type == "code" for o in c.outputs)
    assert re.search(r"LOSO and LOPO folds: \d+ folds in \d+\.\d s", text), "no one-line summary of the training folds"


def _browser() -> str | None:
    return next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


@pytest.mark.slow
@pytest.mark.skipif(_browser() is None, reason="no headless browser (apt-get install chromium)")
def test_quick_run_reports_render_in_a_real_browser(quick_run, tmp_path) -> None:
    """As a reader sees them: the index and a report load, show their figures, and carry no progress-bar walls."""
    _, out = quick_run
    for page, figures in (("index.html", 1), ("02_features.html", 2)):
        args = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
        url = (out / page).as_uri()
        dom = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120)
        assert dom.returncode == 0 and "</html>" in dom.stdout, dom.stderr[-2000:]
        assert dom.stdout.count("data:image/png;base64") >= figures, f"{page} shows no figure"
        assert "%|" not in dom.stdout, f"{page} shows progress-bar lines"
        assert "Uncaught" not in dom.stderr, f"{page} raised a script error: {dom.stderr[-2000:]}"
        shot = tmp_path / f"{page}.png"
        subprocess.run(
            [*args, "--window-size=1280,2000", f"--screenshot={shot}", url], capture_output=True, timeout=120
        )
        assert shot.is_file() and shot.stat().st_size > 20_000, f"{page}: the screenshot is blank"
    assert "Results at a glance" in (out / "index.html").read_text()


def _fake_notebook_dir(tmp_path: Path) -> Path:
    """A notebooks folder with a notebook that fails between two that work."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for number, body in (("00", "x = seed + 1"), ("01", "raise RuntimeError('deliberate failure')"), ("02", "y = 2")):
        nb = new_notebook(
            cells=[
                new_markdown_cell(f"# Notebook {number}"),
                new_code_cell(
                    "dataset = 'demo'\ndata_dir = None\nreports_dir = None\nseed = 0\nsynthetic_size = 'default'",
                    metadata={"tags": ["parameters"]},
                ),
                new_code_cell(body),
                new_code_cell(
                    f"from ser_utils.results import open_report\n"
                    f"open_report(reports_dir, '{number}_step', dataset=dataset).headline('done', True)"
                ),
            ]
        )
        nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
        nbformat.write(nb, folder / f"{number}_step.ipynb")
    return folder


@pytest.mark.slow
def test_a_failing_notebook_is_rendered_and_the_others_still_run(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(run_all, "NOTEBOOK_DIR", _fake_notebook_dir(tmp_path))
    monkeypatch.setattr(run_all, "PARAMS_DIR", tmp_path / "no-params")
    out = tmp_path / "out"
    code = run_all.main(["--dataset", "demo", "-p", "synthetic_size=small", "--out", str(out), "--no-input"])
    assert code == 1
    assert "FAILED: 01_step" in capsys.readouterr().err
    run = json.loads((out / "run.json").read_text())
    assert [nb["status"] for nb in run["notebooks"]] == ["ok", "failed", "ok"]
    assert "deliberate failure" in run["notebooks"][1]["error"]
    assert run["notebooks"][1]["html"] == "01_step.failed.html"
    assert "deliberate failure" in (out / "01_step.failed.html").read_text()  # rendered with its error
    assert run["notebooks"][2]["headlines"] == {"done": True}
    assert "1 failed: 01_step" in (out / "index.html").read_text()
    # --no-input hides the code of the cells that worked
    assert "x = seed + 1" not in (out / "00_step.html").read_text()


def test_unknown_dataset_fails_early_with_suggestion(tmp_path) -> None:
    result = _cli("--dataset", "emovoo", "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert "emovoo" in result.stderr and "emovo" in result.stderr
    assert not (tmp_path / "r").exists()


def test_misspelled_parameter_fails_early(tmp_path) -> None:
    result = _cli("--dataset", "demo", "-p", "sed=1", "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert "unknown parameter 'sed'" in result.stderr and "Did you mean 'seed'" in result.stderr
    assert not (tmp_path / "r").exists()


def test_wrongly_typed_parameter_fails_early(tmp_path) -> None:
    result = _cli("--dataset", "demo", "-p", "seed=one", "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "'seed'" in result.stderr and "int" in result.stderr


def test_missing_corpus_folder_names_the_path_and_the_source(tmp_path) -> None:
    result = _cli("--dataset", "emovo", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert str(tmp_path / "nowhere" / "EMOVO") in result.stderr
    assert "voice.fub.it" in result.stderr  # where to get it
    assert not (tmp_path / "r").exists()


def test_driver_parameters_cannot_be_set_with_p(tmp_path) -> None:
    result = _cli("-p", "dataset=emovo", "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "--dataset" in result.stderr


def test_unknown_notebook_selection(tmp_path) -> None:
    result = _cli("--notebooks", "42", "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "no notebook '42'" in result.stderr


def test_list_shows_datasets_and_notebooks(tmp_path) -> None:
    (tmp_path / "EMOVO").mkdir()
    result = _cli("--list", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name in ("demo", "emovo", "ravdess", "superset", "00_eda"):
        assert name in result.stdout
    emovo_line = next(line for line in result.stdout.splitlines() if line.strip().startswith("emovo "))
    assert "present" in emovo_line
    ravdess_line = next(line for line in result.stdout.splitlines() if line.strip().startswith("ravdess "))
    assert "missing" in ravdess_line


def test_select_notebooks_by_number_and_name() -> None:
    available = [Path("00_eda.ipynb"), Path("03_protocols.ipynb"), Path("04_svm.ipynb")]
    assert run_all.select_notebooks(available, "3,00_eda") == [available[0], available[1]]
    assert run_all.select_notebooks(available, None) == available


@pytest.mark.slow
def test_quick_run_trains_saves_and_transfers(quick_run) -> None:
    """Notebooks 05-08: neural result rows with their cost, saved models, prediction, the transfer table."""
    import pandas as pd

    from ser_utils.dashboard import best_table
    from ser_utils.params import declared_parameters
    from ser_utils.transfer import STRATEGY_LABELS

    _, out = quick_run
    results = pd.read_csv(out / "results.csv")
    for notebook in ("05_cnn", "06_lstm", "07_crnn"):
        rows = results[results["notebook"] == notebook]
        assert (rows["protocol"] == "loso").any(), notebook
        assert rows["notes"].str.contains("s/epoch").all(), notebook  # device and epoch time recorded
    transfer = results[results["notebook"] == "08_transfer_learning"]
    assert {"loso", "lopo", "cross_corpus"} <= set(transfer["protocol"])
    assert transfer["experiment"].str.startswith("zero-shot").any()  # scored by speaker (LOSO), no target training
    # one row per strategy the notebook ran (its default, or what the quick run set), with and without augmentation
    run = json.loads((out / "run.json").read_text())
    defaults = declared_parameters(run_all.NOTEBOOK_DIR / "08_transfer_learning.ipynb")
    given = run["notebook_parameters"]["08_transfer_learning"]
    strategies = given.get("strategies", defaults["strategies"])
    augmented = bool(given.get("augment_presets", defaults["augment_presets"])) and "loso" in given.get(
        "augment_protocols", defaults["augment_protocols"]
    )
    assert augmented  # the quick run covers the augmentation rows (one parameter away by default)
    chosen = given.get("transfer", defaults["transfer"])
    assert {"pooled", "last_block", "scratch"} <= set(strategies)
    for strategy in strategies:
        assert transfer["experiment"].str.startswith(f"{STRATEGY_LABELS[strategy]} · ").any(), strategy
        # augmentation rows: the summary table's (the transfer strategy and the target only)
        with_aug = transfer["experiment"].str.startswith(f"{STRATEGY_LABELS[strategy]} + aug · ").any()
        assert with_aug == (augmented and strategy in (chosen, "scratch")), strategy
    pooled = transfer[transfer["experiment"].str.startswith("transfer (pooled) · ")]
    assert pooled["notes"].str.contains("trained on the target and demo-").all()
    # the quick run also pools fewer source speakers, and runs transfer and the target alone with another seed:
    # probes, each with its own seed, never the index page's best
    probes = transfer[transfer["probe"].fillna("") != ""].set_index("experiment")
    fewer = probes.filter(regex=r"^transfer \(pooled, 1 of \d+ source speakers\) · LOSO$", axis=0)
    assert len(fewer) == 1 and fewer["probe"].tolist() == ["1 source speaker"] and fewer["seed"].tolist() == [0]
    seeded = probes[probes["probe"] == "seed 1"]
    assert sorted(seeded.index) == ["target only, seed 1 · LOSO", "transfer (pooled), seed 1 · LOSO"]
    assert (seeded["seed"] == 1).all() and len(probes) == 3
    assert (transfer.loc[transfer["probe"].fillna("") == "", "seed"] == 0).all()
    best = best_table(results)
    assert not best["experiment"].isin(probes.index).any()
    page = (out / "08_transfer_learning.html").read_text()
    assert "Pooled with 0, 1 and " in page and "Over seeds 0 and 1, the LOSO gain of transfer was" in page
    models = {p.name for p in (out / "models").glob("*.keras")}
    assert "08_transfer_learning-pretrained-cnn1.keras" in models
    assert any(name.startswith("05_cnn-") for name in models)
    assert all((out / "models" / name).with_suffix(".json").is_file() for name in models)
    assert "exit status 0" in (out / "05_cnn.html").read_text()  # python -m ser_utils.predict ran on a clip
    headlines = next(nb for nb in run["notebooks"] if nb["name"] == "08_transfer_learning")["headlines"]
    assert {"LOSO UAR, transfer", "LOSO UAR, target only", "LOSO gain from transfer", "cross-corpus UAR"} <= set(
        headlines
    )


@pytest.mark.slow
def test_quick_study_on_a_local_dask_cluster_gives_the_local_results(quick_run, tmp_path) -> None:
    """--workers 2: features (an empty cache, so the workers compute them) and the network folds of 05 run on
    a Dask LocalCluster of two worker processes, and give the same results table (classical grids on a
    cluster: tests/test_cluster.py). SER_DASK_SCHEDULER, set for the notebooks only, is given back its value."""
    import os

    import pandas as pd

    from ser_utils.results import read_results

    _, local_out = quick_run
    out = tmp_path / "reports"
    env = {**os.environ, "SER_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, str(REPO / "run_all.py"), "--quick", "--workers", "2", "--notebooks", "05"]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Compute: Dask cluster at tcp://" in done.stdout
    run = json.loads((out / "run.json").read_text())
    assert run["compute"]["compute"] == "Dask cluster" and run["compute"]["workers"] == 2
    assert "Dask cluster" in (out / "05_cnn.html").read_text()  # the reproducibility table says where
    assert any((tmp_path / "cache" / "features").rglob("*.npy"))  # the workers filled the (empty) cache
    there = read_results(out)
    here = read_results(local_out)
    here = here[here["notebook"].isin(there["notebook"].unique())]
    assert set(there["notebook"]) == {"05_cnn"}
    key = ["notebook", "experiment"]
    timing = [c for c in there.columns if c == "notes"]  # notes carry s/epoch: how fast, not what
    pd.testing.assert_frame_equal(
        there.drop(columns=timing).sort_values(key).reset_index(drop=True),
        here.drop(columns=timing).sort_values(key).reset_index(drop=True),
    )


@pytest.mark.slow
def test_without_embedding_weights_04_says_how_to_enable_them_and_goes_on(quick_run) -> None:
    _, out = quick_run
    headlines = json.loads((out / "headlines" / "04_svm_baseline.json").read_text())
    reason = headlines["whisper embeddings"]
    assert reason.startswith("skipped: ") and ("fetch whisper" in reason or "pip install keras-hub" in reason)
    assert "LOSO UAR (best)" in headlines  # the rest of the notebook ran
    assert "whisper embeddings" in (out / "index.html").read_text()  # the index says so too


@pytest.mark.slow
def test_quick_run_pools_other_corpora_into_the_training_parts_of_04(quick_run) -> None:
    import pandas as pd

    _, out = quick_run
    results = pd.read_csv(out / "results.csv")
    rows = results[(results["notebook"] == "04_svm_baseline") & results["experiment"].str.endswith("in training")]
    assert len(rows) >= 2 and set(rows["model"]) == {"svm", "logreg"}
    assert rows["experiment"].str.contains("speaker-norm · + demo-ravdess+demo-cremad in training", regex=False).all()
    assert set(rows["protocol"]) == {"loso"}
    alone = results[(results["notebook"] == "04_svm_baseline") & ~results["experiment"].str.endswith("in training")]
    assert all(e.rsplit(" · + ", 1)[0] in set(alone["experiment"]) for e in rows["experiment"])  # each beside its twin
    headlines = json.loads((out / "headlines" / "04_svm_baseline.json").read_text())
    assert 0 <= headlines["LOSO UAR (best, demo-ravdess+demo-cremad pooled)"] <= 1
