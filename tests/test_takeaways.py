"""Takeaways are computed from the run's numbers: they follow the numbers, and say when a gap is within the spread."""

from __future__ import annotations

import pandas as pd

from ser_utils.evaluation import CVResult
from ser_utils.takeaways import as_markdown, network_takeaways, transfer_takeaways


def _result(name: str, uars: list[float], best_epochs: list[int] | None = None, s_epoch: float = 0.5) -> CVResult:
    per_fold = pd.DataFrame(
        {
            "fold": [f"f{i}" for i in range(len(uars))],
            "accuracy": uars,
            "uar": uars,
            "macro_f1": uars,
            "best_epoch": best_epochs or [5] * len(uars),
            "s/epoch": s_epoch,
        }
    )
    return CVResult(
        name, "f", "cnn1", "loso", ["a", "b"], per_fold, pd.DataFrame(), {"uar": 0.25}, {}, {"device": "CPU"}
    )


def test_network_takeaways_follow_the_numbers() -> None:
    results = {
        "cnn1": _result("cnn1", [0.50, 0.60, 0.40], best_epochs=[1, 2, 9], s_epoch=0.1),
        "lstm": _result("lstm", [0.45, 0.55, 0.35], best_epochs=[1, 1, 1], s_epoch=1.0),
        "bilstm": _result("bilstm", [0.20, 0.30, 0.25]),
    }
    reference = pd.Series({"experiment": "loso · logreg · prosody", "uar": 0.70, "uar_std": 0.05})
    text = " ".join(network_takeaways(results, reference=reference))
    assert "best network under LOSO is **cnn1**: UAR 0.500 ± 0.100, 2.0× chance" in text
    assert "leads **lstm** by 0.050, less than one fold standard deviation" in text
    assert "weakest is **bilstm**" in text
    assert "behind by 0.200, more than one fold standard deviation" in text
    assert "In 5 of 9 folds the validation speakers' loss was lowest by epoch 2" in text
    assert "0.10 s (**cnn1**) to 1.00 s (**lstm**)" in text
    # other numbers, other sentences
    flipped = " ".join(network_takeaways({"lstm": _result("lstm", [0.9, 0.8, 0.85])}, reference=reference))
    assert "**lstm**" in flipped and "ahead by 0.150" in flipped and "leads" not in flipped


def test_lopo_is_compared_with_loso_of_the_same_network() -> None:
    results = {"cnn1": _result("cnn1", [0.50, 0.50])}
    lopo = {"cnn1": _result("cnn1", [0.70, 0.70])}
    (line,) = [x for x in network_takeaways(results, lopo=lopo) if "LOPO" in x]
    assert "0.700 ± 0.000 against 0.500 ± 0.000" in line and "new speakers are the harder test" in line


def test_transfer_takeaways_compare_with_the_target_alone() -> None:
    results = {
        ("last_block", False, "loso"): _result("t", [0.40, 0.44]),
        ("scratch", False, "loso"): _result("s", [0.30, 0.40]),
        ("scratch", True, "loso"): _result("sa", [0.20, 0.30]),
        ("scratch", False, "random"): _result("r", [0.60, 0.62]),
    }
    text = " ".join(
        transfer_takeaways(
            results, transfer="last_block", protocols=["random", "loso"], zero_shot=_result("z", [0.3, 0.3])
        )
    )
    assert "LOSO: transfer (last_block) 0.420 ± 0.028 against the target alone 0.350 ± 0.071, a gain of 0.070" in text
    assert "+0.260 from letting test speakers into training" in text
    assert "Augmentation under LOSO (target only): 0.250 ± 0.071 against 0.350 ± 0.071, a loss of 0.100" in text
    assert "zero-shot" in text
    assert transfer_takeaways({}, transfer=None, protocols=["loso"]) == ["No fine-tuning run to compare."]
    assert as_markdown(["a", "b"]).endswith("- a\n- b")
