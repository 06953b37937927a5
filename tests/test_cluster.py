"""The heavy work on a Dask cluster (a LocalCluster of two worker processes) gives what this machine gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

distributed = pytest.importorskip("distributed")

from conftest import make_toy_table  # noqa: E402

from ser_utils import cluster  # noqa: E402
from ser_utils.baselines import Experiment, run_experiments  # noqa: E402
from ser_utils.estimators import NetworkClassifier  # noqa: E402
from ser_utils.evaluation import cross_validate  # noqa: E402
from ser_utils.features import extract_features  # noqa: E402
from ser_utils.features.parallel import in_fresh_process, run_batches  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _register_by_value() -> None:
    """Tasks defined here reach the workers and fresh processes by value: they need not import this module."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


_register_by_value()


@pytest.fixture(scope="module")
def local_cluster():
    """Two worker processes on this machine (started once for the module)."""
    dask_cluster = cluster.start_local(2)
    yield dask_cluster
    cluster.close()
    dask_cluster.close()


@pytest.fixture()
def on_cluster(local_cluster, monkeypatch):
    """Work of this test goes to the cluster (as SER_DASK_SCHEDULER makes it in a notebook); the client
    for recording which tasks ran there."""
    monkeypatch.setenv(cluster.SCHEDULER_ENV, local_cluster.scheduler_address)
    client = cluster.client()
    assert client is not None
    yield client
    cluster.close()


def _ran(stream, prefix: str) -> int:
    """How many tasks named ``prefix`` (their function's name) a ``distributed.get_task_stream`` recorded."""
    return sum(str(task["key"]).startswith(prefix + "-") for task in stream.data)


def _clips(folder: Path, n: int = 8) -> pd.DataFrame:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        t = np.arange(int(16000 * (0.8 + 0.1 * i))) / 16000
        y = 0.2 * np.sin(2 * np.pi * (110 + 20 * i) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
        sf.write(folder / f"c{i}.wav", (y + 0.01 * rng.normal(size=t.size)).astype(np.float32), 16000)
        rows.append({"utt_id": f"c{i}", "path": str(folder / f"c{i}.wav"), "speaker": f"s{i % 2}", "emotion": "x"})
    return pd.DataFrame(rows)


def test_features_computed_on_the_cluster_equal_local_ones(on_cluster, tmp_path) -> None:
    rows = _clips(tmp_path / "audio")
    here = extract_features(rows, "kaggle162", n_jobs=1, progress=False, cache_root=tmp_path / "here")
    with distributed.get_task_stream(client=on_cluster) as stream:
        there = extract_features(rows, "kaggle162", n_jobs=-1, progress=False, cache_root=tmp_path / "there")
    assert _ran(stream, "_work") >= 2  # the batches ran on the workers
    np.testing.assert_array_equal(here.X, there.X)
    assert len(list((tmp_path / "there").rglob("*.npy"))) == len(rows)  # the workers wrote the shared cache
    warm = extract_features(rows, "kaggle162", n_jobs=-1, progress=False, cache_root=tmp_path / "there")
    assert warm.timing["from_cache"] == len(rows)  # a rerun anywhere is warm


def test_classical_grids_on_the_cluster_equal_local_ones(on_cluster, monkeypatch) -> None:
    table = make_toy_table(speakers=4)
    experiments = [Experiment("toy", "svm", "loso"), Experiment("toy", "logreg", "loso", speaker_norm=True)]
    with distributed.get_task_stream(client=on_cluster) as stream:
        there = run_experiments(experiments, {"toy": table}, grid="small", n_jobs=-1, progress=False)
    assert _ran(stream, "_run_one") == len(experiments)
    monkeypatch.delenv(cluster.SCHEDULER_ENV)
    cluster.close()
    here = run_experiments(experiments, {"toy": table}, grid="small", n_jobs=1, progress=False)
    for e in experiments:
        pd.testing.assert_frame_equal(here[e].per_fold, there[e].per_fold)


def test_network_folds_on_the_cluster_equal_local_ones(on_cluster, monkeypatch) -> None:
    table = make_toy_table(speakers=3)
    network = NetworkClassifier("cnn1", {"filters": 8}, {"epochs": 3, "batch_size": 8})
    with distributed.get_task_stream(client=on_cluster) as stream:
        there = cross_validate(network, table, "loso", experiment="cnn1", n_jobs=2, progress=False)
    assert _ran(stream, "run_fold") == 3  # one task per fold
    monkeypatch.delenv(cluster.SCHEDULER_ENV)
    cluster.close()
    here = cross_validate(network, table, "loso", experiment="cnn1", n_jobs=2, progress=False)  # local fold workers
    timing = ["s/epoch"]  # the one column that may differ: how fast an epoch ran
    pd.testing.assert_frame_equal(here.per_fold.drop(columns=timing), there.per_fold.drop(columns=timing))
    pd.testing.assert_frame_equal(here.predictions, there.predictions)


def _dies_once(marker: str, batch: int) -> int:
    """A task whose first run kills the worker process running it (a machine lost mid-run)."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return batch * 10


def test_a_worker_that_dies_mid_run_loses_nothing(on_cluster, tmp_path) -> None:
    from functools import partial

    got: list[int] = []
    run_batches(
        partial(_dies_once, str(tmp_path / "died")),
        list(range(6)),
        workers=2,
        backend="loky",
        on_result=got.append,
    )
    assert (tmp_path / "died").exists()  # a worker did die
    assert sorted(got) == [0, 10, 20, 30, 40, 50]  # its task ran again on a live worker


def test_workers_without_the_package_are_named(tmp_path) -> None:
    blocker = tmp_path / "no_ser_utils.py"
    blocker.write_text("import sys\nsys.modules['ser_utils'] = None  # as on a worker where it is not installed\n")
    import logging

    bare = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
        preload=[str(blocker)],
    )
    try:
        with pytest.raises(cluster.ClusterError, match=r"1 of 1 Dask workers cannot run ser-lab .*pip install -e"):
            cluster.connect(bare.scheduler_address)
    finally:
        bare.close()


def test_an_unreachable_scheduler_is_a_clear_message(monkeypatch) -> None:
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "1s")
    import dask

    dask.config.refresh()
    try:
        with pytest.raises(cluster.ClusterError, match="could not reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
            cluster.connect("tcp://127.0.0.1:9")
        monkeypatch.setenv(cluster.SCHEDULER_ENV, "tcp://127.0.0.1:9")
        with pytest.warns(RuntimeWarning, match="Working on this machine instead"):
            assert cluster.client() is None  # inside a notebook: the work stays here
        assert cluster.executor() is None and cluster.effective_workers(-1) == os.cpu_count()
    finally:
        cluster.close()
        monkeypatch.undo()
        dask.config.refresh()


def test_run_all_refuses_an_unreachable_scheduler_before_any_work(tmp_path) -> None:
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    done = subprocess.run(
        [sys.executable, str(REPO / "run_all.py"), "--quick", "--notebooks", "00", "--out", str(tmp_path / "r")]
        + ["--scheduler", "tcp://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "could not reach the Dask scheduler" in done.stderr and "--workers N" in done.stderr
    assert not (tmp_path / "r").exists()


def _square(x: int) -> int:
    return x * x


def _fails() -> None:
    raise ValueError("broken on purpose")


def test_in_fresh_process_returns_the_value_or_the_error() -> None:
    assert in_fresh_process(_square, 7) == 49
    with pytest.raises(RuntimeError, match="broken on purpose"):
        in_fresh_process(_fails)


def test_without_a_cluster_the_work_stays_on_this_machine(monkeypatch) -> None:
    from distributed.cfexecutor import ClientExecutor

    from ser_utils.evaluation import fold_executor
    from ser_utils.features.parallel import executor

    monkeypatch.delenv(cluster.SCHEDULER_ENV, raising=False)
    assert cluster.client() is None and cluster.executor() is None
    assert cluster.describe()["compute"] == "this machine" and cluster.effective_workers(-1) == os.cpu_count()
    pools = [executor(2), fold_executor(2)]
    assert not any(isinstance(pool, ClientExecutor) for pool in pools)  # joblib's loky processes, as before
    assert pools[0].submit(os.getpid).result() != os.getpid()
    assert cluster.worker_threads(2, cores=8)["TF_NUM_INTRAOP_THREADS"] == "4"


def test_a_cluster_worker_with_several_threads_is_warned_about(tmp_path) -> None:
    import logging

    crowded = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    )
    try:
        with pytest.warns(RuntimeWarning, match="--nthreads 1"):
            cluster.connect(crowded.scheduler_address).close()
    finally:
        crowded.close()


def test_opensmile_on_a_worker_that_has_loaded_tensorflow(on_cluster, tmp_path) -> None:
    """A worker that trained a network holds TensorFlow, beside which openSMILE must not run: its batches
    of eGeMAPS go to a fresh process of their own, with the numbers a clean process gives."""
    from ser_utils.features.prosody import opensmile_available
    from ser_utils.models import keras_module

    if not opensmile_available():
        pytest.skip("opensmile is not installed")
    rows = _clips(tmp_path / "audio", n=4)
    here = extract_features(rows, "prosody", n_jobs=1, progress=False, cache_root=tmp_path / "here")
    on_cluster.run(keras_module)  # as after a notebook of networks
    assert all(on_cluster.run(lambda: "tensorflow" in sys.modules).values())
    there = extract_features(rows, "prosody", n_jobs=-1, progress=False, cache_root=tmp_path / "there")
    assert there.X.shape == (4, 88)
    np.testing.assert_allclose(here.X, there.X, rtol=1e-6)
