"""Nothing lost, nothing silently wrong: the defects of issue 12, each reproduced, and what a rerun keeps.

Each test failed before its fix: a one-clip speaker reference, a NaN sample at another rate, a missing
or DC-only file, a damaged feature-cache entry, a file changed with its size and mtime restored, a
broken link dropped without a word, a failed rerun that destroyed the previous report, ``--out
notebooks``, and usage errors that surfaced as tracebacks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sf = pytest.importorskip("soundfile")

from ser_utils.audio import AudioConfig, AudioError, load_audio, read_clip  # noqa: E402
from ser_utils.features import extract_features  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SR = 16000


def _voice(f0: float, seconds: float = 0.8, sr: int = SR, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))
    return (0.15 * tone + 0.02 * rng.normal(size=t.size)).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# Audio: checked before anything can crash on it


def test_nan_sample_at_another_rate_is_a_reason_not_a_traceback(tmp_path) -> None:
    y = _voice(150, sr=22050)
    y[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, y, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match="non-finite"):
        load_audio(path, 16000)


def test_missing_file_and_folder_say_so(tmp_path) -> None:
    with pytest.raises(AudioError, match="not found"):
        read_clip(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="not a file"):
        read_clip(tmp_path)


def test_dc_only_file_is_silent(tmp_path) -> None:
    path = tmp_path / "dc.wav"
    sf.write(path, np.full(SR, 0.5, np.float32), SR)
    with pytest.raises(AudioError, match="constant"):
        read_clip(path, AudioConfig())
    real = tmp_path / "voice.wav"
    sf.write(real, _voice(140), SR)
    assert read_clip(real, AudioConfig()).size > 0


# --------------------------------------------------------------------------------------------------
# Caches: a damaged entry is recomputed; a changed file is noticed


def _manifest(folder: Path, n: int = 6) -> pd.DataFrame:
    rows = []
    for i in range(n):
        path = folder / f"clip{i}.wav"
        sf.write(path, _voice(120 + 20 * i, seed=i), SR)
        rows.append({"path": str(path), "utt_id": path.stem, "speaker": f"s{i % 2}", "emotion": "angry"})
    return pd.DataFrame(rows)


def test_damaged_cache_entries_are_recomputed_and_logged(tmp_path, caplog) -> None:
    rows = _manifest(tmp_path)
    cache = tmp_path / "cache"
    first = extract_features(rows, "mfcc_mean", n_jobs=1, progress=False, cache_root=cache)
    items = sorted(cache.glob("*/*/*.npy"))
    with open(items[0], "r+b") as f:
        f.truncate(40)  # half a file, as a killed writer or a full disk leaves it
    items[1].write_bytes(b"")
    with caplog.at_level("WARNING", logger="ser_utils.features"):
        again = extract_features(rows, "mfcc_mean", n_jobs=1, progress=False, cache_root=cache)
    np.testing.assert_array_equal(first.X, again.X)
    assert again.timing["repaired"] == 2 and again.timing["computed"] == 2
    assert "2 damaged cache entries" in caplog.text


def test_changed_audio_with_restored_size_and_mtime_is_reread(tmp_path) -> None:
    from ser_utils.corpora.reader import list_files, probe_cached

    path = tmp_path / "a.wav"
    sf.write(path, _voice(150), SR)
    first = probe_cached("t", tmp_path, list_files(tmp_path), progress=False, desc="")
    stat = os.stat(path)
    data = bytearray(path.read_bytes())
    data[-200:] = bytes(200)  # same size, other content
    time.sleep(0.01)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the modification time restored
    assert os.stat(path).st_size == stat.st_size and os.stat(path).st_mtime_ns == stat.st_mtime_ns
    second = probe_cached("t", tmp_path, list_files(tmp_path), progress=False, desc="")
    assert first["a.wav"]["file_hash"] != second["a.wav"]["file_hash"]


def test_broken_link_is_listed_with_a_reason(tmp_path) -> None:
    from ser_utils.corpora.reader import list_files, probe_cached

    (tmp_path / "gone.wav").symlink_to(tmp_path / "missing-target.wav")
    files = list_files(tmp_path)
    assert "gone.wav" in files
    probe = probe_cached("t", tmp_path, files, progress=False, desc="")["gone.wav"]
    assert "broken or looping symbolic link" in probe["error"]


# --------------------------------------------------------------------------------------------------
# Prediction: a speaker reference that cannot work is refused; one bad file costs only itself


@pytest.fixture(scope="module")
def speaker_model(tmp_path_factory):
    """A tiny speaker-normalised cnn1 and clips of one speaker."""
    pytest.importorskip("keras")
    from ser_utils.estimators import NetworkClassifier, fit_final

    folder = tmp_path_factory.mktemp("wavs")
    rows = []
    for s, speaker in enumerate("abc"):
        for e, emotion in enumerate(("angry", "neutral", "sad")):
            for p in range(2):
                path = folder / f"{speaker}_{emotion}_{p}.wav"
                sf.write(path, _voice(120 + 60 * e + 15 * s, 0.6, seed=s * 10 + e * 2 + p), SR)
                rows.append({"path": str(path), "utt_id": path.stem, "speaker": speaker, "emotion": emotion})
    manifest = pd.DataFrame(rows)
    table = extract_features(
        manifest, "kaggle162", n_jobs=1, progress=False, cache_root=tmp_path_factory.mktemp("cache")
    )
    fitted = fit_final(
        NetworkClassifier("cnn1", {"filters": 8}, {"epochs": 2, "batch_size": 8, "val_fraction": 0.34}),
        table,
        speaker_norm=True,
    )
    path, _ = fitted.save(tmp_path_factory.mktemp("model") / "cnn1.keras")
    return path, manifest, folder


def test_one_reference_clip_is_refused_with_the_minimum(speaker_model) -> None:
    from ser_utils.predict import MIN_REFERENCE_CLIPS, load_predictor, main

    path, manifest, _ = speaker_model
    clip = manifest["path"].iloc[0]
    with pytest.raises(ValueError, match=f"at least {MIN_REFERENCE_CLIPS} reference clips"):
        load_predictor(path).predict([clip], same_speaker=True)
    assert main([str(path), clip, "--same-speaker"]) == 2


def test_prediction_says_what_the_reference_rests_on(speaker_model, capsys) -> None:
    from ser_utils.predict import load_predictor, main

    path, manifest, _ = speaker_model
    refs = list(manifest.loc[manifest["speaker"] == "a", "path"])
    table = load_predictor(path).predict(refs[:2], speaker_ref=refs)
    assert (table["reference_clips"] == len(refs)).all()
    assert table.attrs["reference"]["warning"]  # 6 clips of 0.6 s: fewer seconds than advised
    assert main([str(path), refs[0], "--speaker-ref", *refs]) == 0
    assert f"speaker reference: {len(refs)} clips" in capsys.readouterr().err


def test_a_bad_file_in_a_batch_costs_only_itself(speaker_model, tmp_path) -> None:
    from ser_utils.predict import load_predictor

    path, manifest, _ = speaker_model
    refs = list(manifest.loc[manifest["speaker"] == "a", "path"])
    nan = tmp_path / "nan.wav"
    y = _voice(150, sr=22050)
    y[5] = np.nan
    sf.write(nan, y, 22050, subtype="FLOAT")
    table = load_predictor(path).predict([refs[0], str(nan), str(tmp_path / "missing.wav"), refs[1]], speaker_ref=refs)
    assert list(table["error"] == "") == [True, False, False, True]
    assert "non-finite" in table.loc[1, "error"] and "not found" in table.loc[2, "error"]


# --------------------------------------------------------------------------------------------------
# run_all: usage errors before anything runs; earlier reports survive failures and interrupts


def _run_all(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "run_all.py"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=900,
        **kwargs,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "notebooks"], "holds the source notebooks"),
        (["--kernel", "pyhton3"], "no such Jupyter kernel"),
        (["-p", "emotions=[angry]"], "only one emotion left"),
        (["-p", "emotions=[angry, calm]"], "calm not in demo"),
        (["-p", "emotions=[angri]"], "unknown emotion"),
        (["-p", "merge_labels={angri: sad}"], "unknown emotion"),
    ],
)
def test_usage_errors_exit_2_with_a_message(args, message, tmp_path) -> None:
    done = _run_all("--quick", "--notebooks", "00", *(args if "--out" in args else [*args, "--out", str(tmp_path)]))
    assert done.returncode == 2, done.stderr[-2000:]
    assert message in done.stderr and "Traceback" not in done.stderr


def test_out_that_is_a_file_or_unwritable(tmp_path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    done = _run_all("--quick", "--notebooks", "00", "--out", str(target / "sub"))
    assert done.returncode == 2 and "is a file" in done.stderr
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        done = _run_all("--quick", "--notebooks", "00", "--out", str(locked / "reports"))
        assert done.returncode == 2 and "cannot write" in done.stderr


def _study(tmp_path: Path) -> Path:
    """Stand-in notebooks (00_first, 01_second, 03_third) that record a result row and a headline, and can
    fail (``fail``) or take their time (``pause``): what a rerun keeps does not depend on what a notebook
    computes, and these run in seconds where the real ones take a minute."""
    from nbformat import write
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ("00_first", "01_second", "03_third"):
        nb = new_notebook(
            cells=[
                new_markdown_cell(f"# {name}"),
                new_code_cell(
                    "dataset = 'demo'\ndata_dir = None\nreports_dir = None\nseed = 0\nsynthetic_size = 'default'\n"
                    "fail = False\npause = 0.0\npaused_marker = ''",
                    metadata={"tags": ["parameters"]},
                ),
                new_code_cell(
                    "import pathlib, time\nfrom ser_utils.results import open_report\n"
                    f"report = open_report(reports_dir, {name!r}, dataset=dataset, seed=seed)\n"
                    "if paused_marker:\n    pathlib.Path(paused_marker).touch()\n"
                    "time.sleep(pause)\n"
                    "if fail:\n    raise ValueError('failed on purpose')\n"
                    "report.add_result('exp', features='f', model='m', protocol='loso', n_folds=2, accuracy=0.5,"
                    " uar=0.4 + seed / 100, macro_f1=0.3)\n"
                    "report.headline('UAR', 0.4 + seed / 100)"
                ),
            ]
        )
        nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
        write(nb, folder / f"{name}.ipynb")
    return folder


def _study_command(notebooks: Path, *args: str) -> list[str]:
    """run_all.py's command line, on the notebooks of ``notebooks`` (the small synthetic corpus)."""
    launch = "import pathlib, sys, run_all; run_all.NOTEBOOK_DIR = pathlib.Path(sys.argv[1]); sys.exit(run_all.main(sys.argv[2:]))"
    return [sys.executable, "-c", launch, str(notebooks), "-p", "synthetic_size=small", *args]


def _wait_for(marker: Path, timeout: float = 300) -> None:
    """Until a stand-in notebook has touched ``marker`` (it does so just before its pause), then a little more."""
    deadline = time.time() + timeout
    while not marker.exists():
        assert time.time() < deadline, f"the notebook never reached its pause ({marker} not written)"
        time.sleep(0.1)
    time.sleep(0.5)


def _run_study(notebooks: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(_study_command(notebooks, *args), capture_output=True, text=True, timeout=600, cwd=REPO)


@pytest.mark.slow
def test_failed_and_interrupted_reruns_keep_the_previous_report(tmp_path) -> None:
    study, out = _study(tmp_path), tmp_path / "reports"
    first = _run_study(study, "--notebooks", "00,03", "--out", str(out))
    assert first.returncode == 0, first.stderr[-3000:]
    before = {name: (out / name).read_bytes() for name in ("results.csv", "03_third.html", "headlines/03_third.json")}
    rows = pd.read_csv(out / "results.csv")
    assert (rows["notebook"] == "03_third").sum() > 0

    # a failing rerun of 03: its earlier results, headlines and page stay; the failure is rendered beside them
    failed = _run_study(study, "--notebooks", "03", "--out", str(out), "-p", "03_third.fail=true", "-p", "seed=1")
    assert failed.returncode == 1
    assert all((out / name).read_bytes() == data for name, data in before.items())
    assert "failed on purpose" in (out / "03_third.failed.html").read_text()
    run = json.loads((out / "run.json").read_text())
    records = {nb["name"]: nb for nb in run["notebooks"]}
    assert set(records) == {"00_first", "03_third"}  # 00 is still described, from the first run
    assert records["03_third"]["failed_html"] == "03_third.failed.html"
    assert records["00_first"]["run"]["started"] != run["started"]

    # Ctrl-C in the middle of 03: nothing of the earlier report is lost or half-written, exit 130
    marker = tmp_path / "paused"
    process = subprocess.Popen(
        _study_command(
            study,
            "--notebooks",
            "03",
            "--out",
            str(out),
            "-p",
            "pause=60",
            "-p",
            "seed=2",
            "-p",
            f"paused_marker={marker}",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=REPO,
    )
    _wait_for(marker)  # the notebook is inside its 60 s pause
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err[-3000:]
    assert "Traceback" not in err.split("Interrupted")[-1]
    assert all((out / name).read_bytes() == data for name, data in before.items())
    assert not (out / ".staging").exists()  # nothing half-written left behind

    # a successful run of another notebook leaves 03 listed in the index and run.json
    second = _run_study(study, "--notebooks", "00", "--out", str(out))
    assert second.returncode == 0
    names = [nb["name"] for nb in json.loads((out / "run.json").read_text())["notebooks"]]
    assert names == ["00_first", "03_third"]
    assert "03_third" in (out / "index.html").read_text()
    third = pd.read_csv(out / "results.csv").query("notebook == '03_third'").reset_index(drop=True)
    pd.testing.assert_frame_equal(third, rows.query("notebook == '03_third'").reset_index(drop=True))


@pytest.mark.slow
def test_killed_and_concurrent_runs_leave_a_whole_report(tmp_path) -> None:
    study, out = _study(tmp_path), tmp_path / "reports"
    # SIGKILL mid-notebook: no handler runs at all; the folder keeps only whole files, and a rerun completes
    marker = tmp_path / "paused"
    process = subprocess.Popen(
        _study_command(
            study, "--notebooks", "03", "--out", str(out), "-p", "pause=60", "-p", f"paused_marker={marker}"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        cwd=REPO,
    )
    _wait_for(marker)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert not (out / "results.csv").exists() and not (out / "03_third.html").exists()
    rerun = _run_study(study, "--notebooks", "03", "--out", str(out))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert pd.read_csv(out / "results.csv")["uar"].tolist() == [0.4]

    # two runs into one folder at once: both notebooks end up in results, run.json and the index
    both = [
        subprocess.Popen(
            _study_command(study, "--notebooks", nb, "--out", str(out)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
        )
        for nb in ("00", "01")
    ]
    assert [p.wait(timeout=600) for p in both] == [0, 0]
    names = {nb["name"] for nb in json.loads((out / "run.json").read_text())["notebooks"]}
    assert names == {"00_first", "01_second", "03_third"}
    assert set(pd.read_csv(out / "results.csv")["notebook"]) == {"00_first", "01_second", "03_third"}
    index = (out / "index.html").read_text()
    assert all(f'href="{name}.html"' in index for name in names)
    assert not (out / ".staging").exists()
