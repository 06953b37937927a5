"""The networks on Keras's JAX backend: what a machine without TensorFlow (a GPU box with JAX) runs.

Keras reads ``KERAS_BACKEND`` once per process, so the JAX run happens in a child Python of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import REPO, make_toy_table

pytest.importorskip("jax")

#: Cross-validate, save, load and predict with a small network on JAX; print what came out as JSON.
SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):  # as on a GPU machine that has JAX and no TensorFlow
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ImportError("no TensorFlow here")

    sys.meta_path.insert(0, NoTensorFlow())
    sys.path[:0] = [{repo!r}, {tests!r}]
    import numpy as np
    from conftest import make_toy_table
    from ser_utils import modelfile
    from ser_utils.estimators import NetworkClassifier, fit_final
    from ser_utils.evaluation import cross_validate
    from ser_utils.models import device_info, distribution
    from ser_utils.training import predict_proba

    table = make_toy_table(shape=(12,), speakers=3)
    network = NetworkClassifier("cnn1", {{"filters": 8}}, {{"epochs": 3, "patience": 0}})
    result = cross_validate(network, table, "loso", experiment="cnn1 on JAX")
    final = fit_final(network, table, epochs=2)
    final.save({model!r})
    loaded, description = modelfile.load({model!r})
    try:
        distribution(["/gpu:0", "/gpu:1"])
        refused = ""
    except ValueError as err:
        refused = str(err)
    np.save({proba!r}, final.predict_proba(table.X))
    print(json.dumps({{
        "tensorflow_loaded": "tensorflow" in sys.modules,
        "info": device_info(),
        "folds": len(result.per_fold),
        "uar": result.mean(),
        "run_info": final.run_info_,
        "refused": refused,
        "same_after_loading": bool(np.allclose(predict_proba(loaded, [table.X]), final.predict_proba(table.X), atol=1e-5)),
    }}))
    """
)


def test_a_network_cross_validates_saves_and_loads_on_the_jax_backend(tmp_path) -> None:
    script = SCRIPT.format(
        repo=str(REPO), tests=str(REPO / "tests"), model=str(tmp_path / "net.keras"), proba=str(tmp_path / "p.npy")
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["info"]["backend"].startswith("JAX ") and out["info"]["tensorflow"] is None
    assert out["info"]["device"].startswith("CPU") and out["info"]["precision"] == "float32"
    assert out["run_info"]["backend"].startswith("JAX ")
    assert not out["tensorflow_loaded"]
    assert out["folds"] == 3 and out["uar"] > 0.45  # well above chance (1/3): the toy emotions shift the features
    assert out["same_after_loading"]
    assert "TensorFlow backend" in out["refused"]  # data parallel over several GPUs is TensorFlow's alone
    # the saved file loads on TensorFlow, here, and predicts what it predicted on JAX
    from ser_utils import modelfile
    from ser_utils.training import predict_proba

    loaded, _ = modelfile.load(tmp_path / "net.keras")
    on_jax = np.load(tmp_path / "p.npy")
    np.testing.assert_allclose(predict_proba(loaded, [make_toy_table(shape=(12,), speakers=3).X]), on_jax, atol=1e-5)
