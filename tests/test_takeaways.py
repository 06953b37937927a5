"""Takeaways are computed from the run's numbers: they follow the numbers, and say when a gap is within the spread."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ser_utils.evaluation import CVResult
from ser_utils.takeaways import as_markdown, network_takeaways, transfer_takeaways
from ser_utils.transfer import seed_gains, speaker_curve, speaker_gains


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


def test_a_network_on_the_classical_models_input_is_compared_with_it() -> None:
    results = {
        "statpool_lld": _result("statpool_lld", [0.70, 0.74]),
        "dense_compare": replace(_result("dense_compare", [0.60, 0.80]), features="compare"),
    }
    reference = pd.Series(
        {"experiment": "loso · logreg · compare", "features": "compare", "uar": 0.84, "uar_std": 0.06}
    )
    (line,) = [x for x in network_takeaways(results, reference=reference) if "same input" in x]
    assert "**dense_compare** reaches 0.700 ± 0.141, behind the classical model by 0.140" in line
    assert "less than one fold standard deviation (0.141)" in line and "learner" not in line  # within the noise
    results["dense_compare"] = replace(_result("d", [0.66, 0.74]), features="compare")  # 0.700 ± 0.057
    (line,) = [x for x in network_takeaways(results, reference=reference) if "same input" in x]
    assert "more than one fold standard deviation (0.057)" in line and "the gap is the learner's" in line
    results["dense_compare"] = replace(_result("d", [0.90, 0.94]), features="compare")  # the best network now
    text = " ".join(network_takeaways(results, reference=reference))
    assert (
        "the best network is ahead by 0.080, more than one fold standard deviation (0.028); it reads the classical"
        in text
    )
    assert "same input" not in text  # one sentence, not two
    other = reference.copy()
    other["features"] = "prosody"  # no network read eGeMAPS functionals: nothing to say
    assert not [x for x in network_takeaways(results, reference=other) if "same input" in x]


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
    assert "transfer is ahead on 2 of 2 test speakers" in text  # 0.40 > 0.30 and 0.44 > 0.40
    each = speaker_gains(results, transfer="last_block")  # the table notebook 08 shows
    assert list(each.columns[:2]) == ["transfer (last_block)", "target only"]
    np.testing.assert_allclose(each["transfer (last_block)"] - each["target only"], [0.10, 0.04])
    assert speaker_gains(results, transfer=None) is None  # no transfer ran (no source corpus)
    assert "+0.260 from letting test speakers into training" in text
    assert "Augmentation under LOSO (target only): 0.250 ± 0.071 against 0.350 ± 0.071, a loss of 0.100" in text
    assert "zero-shot" in text
    results[("pooled", False, "loso")] = _result("p", [0.50, 0.30])
    text = " ".join(
        transfer_takeaways(results, transfer="pooled", protocols=["loso"], source_speakers=44, target_speakers=6)
    )
    assert "best first: last_block 0.420 ± 0.028, pooled 0.400 ± 0.141, scratch 0.350 ± 0.071." in text
    assert "The source corpora brought 44 speakers; each LOSO fold had 5 target speakers to train" in text
    del results[("pooled", False, "loso")]
    results[("last_block", False, "loso")] = _result("t", [0.40, 0.35])
    assert "ahead on 1 of 2 test speakers" in " ".join(
        transfer_takeaways(results, transfer="last_block", protocols=["loso"])
    )
    assert transfer_takeaways({}, transfer=None, protocols=["loso"]) == ["No transfer run to compare."]
    assert as_markdown(["a", "b"]).endswith("- a\n- b")


def _transfer_line(results, starting: str, **probes) -> str:
    """The takeaway sentence about a probe of notebook 08 (``speaker_curve=`` or ``by_seed=``), "" when none."""
    lines = transfer_takeaways(results, transfer="pooled", protocols=["loso"], **probes)
    return " ".join(x for x in lines if x.startswith(starting))


def test_the_speaker_curve_and_what_it_says() -> None:
    subsets = {2: _result("2", [0.30, 0.40]), 8: _result("8", [0.40, 0.50])}
    scratch, pooled = _result("s", [0.30, 0.30]), _result("p", [0.50, 0.52])
    curve = speaker_curve(subsets, scratch=scratch, pooled=pooled, n_source=44)
    assert list(curve.index) == [0, 2, 8, 44] and curve.index.name == "source speakers"
    np.testing.assert_allclose(curve["mean"], [0.30, 0.35, 0.45, 0.51])
    np.testing.assert_allclose(curve["gain over the target alone"], [0.0, 0.05, 0.15, 0.21])
    assert curve.loc[44, "UAR"] == pooled.cell()
    results = {("pooled", False, "loso"): pooled, ("scratch", False, "loso"): scratch}

    def line(curve):
        return _transfer_line(results, "Pooled with", speaker_curve=curve)

    assert line(curve) == (
        "Pooled with 0, 2, 8 and 44 source speakers, LOSO UAR was 0.300, 0.350, 0.450 and 0.510: "
        "it rose at every step (+0.210 from the first to the last; one seed's curve)."
    )
    subsets[8] = _result("8", [0.20, 0.30])
    assert "it did not rise at every step (+0.210" in line(
        speaker_curve(subsets, scratch=scratch, pooled=pooled, n_source=44)
    )
    one_fold = speaker_curve(
        {2: _result("2", [0.4])}, scratch=_result("s", [0.3]), pooled=_result("p", [0.5]), n_source=9
    )
    assert one_fold["std"].isna().all() and "rose at every step" in line(one_fold)  # one fold: no spread, still a curve
    no_target = speaker_curve(subsets, scratch=None, pooled=pooled, n_source=44)
    assert list(no_target.index) == [2, 8, 44] and no_target["gain over the target alone"].isna().all()
    assert line(speaker_curve({}, scratch=scratch, pooled=pooled, n_source=44)) == ""  # two points: nothing to say


def test_gains_seed_by_seed_and_what_they_say() -> None:
    pairs = {
        0: (_result("t0", [0.50, 0.52]), _result("s0", [0.55, 0.52])),  # 0.510 against 0.535
        1: (_result("t1", [0.52, 0.52]), _result("s1", [0.48, 0.50])),  # 0.520 against 0.490
        2: (_result("t2", [0.50, 0.54]), _result("s2", [0.50, 0.50])),  # 0.520 against 0.500
    }
    table = seed_gains(pairs)
    assert list(table.index) == ["seed 0", "seed 1", "seed 2", "mean over seeds", "std over seeds"]
    np.testing.assert_allclose(table["gain"].iloc[:3], [-0.025, 0.030, 0.020])
    assert table.loc["mean over seeds", "gain"] == pytest.approx(0.025 / 3)
    assert table.loc["std over seeds", "gain"] == pytest.approx(np.std([-0.025, 0.030, 0.020], ddof=1))
    results = {("pooled", False, "loso"): pairs[0][0], ("scratch", False, "loso"): pairs[0][1]}

    def line(table):
        return _transfer_line(results, "Over seeds", by_seed=table)

    assert line(table) == (
        "Over seeds 0, 1 and 2, the LOSO gain of transfer was -0.025, +0.030 and +0.020: +0.008 on average, "
        "ahead at 2 of 3 seeds, no more than its spread over seeds (0.029): these runs do not settle it."
    )
    ahead = seed_gains({s: (moved, _result("s", [0.40, 0.40])) for s, (moved, _) in pairs.items()})
    assert "ahead at 3 of 3 seeds, more than its spread over seeds (0.006)." in line(ahead)
    behind = seed_gains({s: (_result("s", [0.40, 0.40]), moved) for s, (moved, _) in pairs.items()})
    assert "-0.117 on average, behind or level at every seed, more than its spread over seeds (0.006)." in line(behind)
    level = seed_gains({s: (pairs[0][0], pairs[0][0]) for s in (0, 1)})  # no gain and no spread: nothing settled
    assert "+0.000 on average, behind or level at every seed, no more than its spread over seeds (0.000)" in line(level)
    assert line(seed_gains({0: pairs[0]})) == ""  # one seed: no spread to judge by


def test_a_zero_shot_above_every_trained_strategy_is_said_only_on_the_same_emotions() -> None:
    results = {("pooled", False, "loso"): _result("p", [0.40, 0.44]), ("scratch", False, "loso"): _result("s", [0.3])}
    above = _result("z", [0.50, 0.48])

    def zero_shot_line(zero_shot):
        lines = transfer_takeaways(results, transfer="pooled", protocols=["loso"], zero_shot=zero_shot)
        return next(line for line in lines if "zero-shot" in line)

    line = zero_shot_line(above)
    assert "above every strategy trained on target clips under LOSO (best: pooled 0.420 ± 0.028) by 0.070" in line
    assert "more than one fold standard deviation (0.028)" in line  # 0.490 against 0.420 ± 0.028
    fewer = replace(above, labels=["a"], chance={"uar": 1.0})  # scored on fewer (shared) emotions: another task
    assert "above every strategy" not in zero_shot_line(fewer)
    assert "above every strategy" not in zero_shot_line(_result("z", [0.40, 0.42]))


def test_protocol_takeaways_split_the_leak_into_its_parts() -> None:
    from ser_utils.takeaways import label_uar, protocol_takeaways

    rows = [
        ("(a) leaky", False, 0.70),
        ("(b) random", False, 0.55),
        ("(d) LOSO", False, 0.25),
        ("(e) LOPO", False, 0.60),
        ("(b) random", True, 0.52),
        ("(d) LOSO", True, 0.32),
        ("(d′) LOSO, no copies", True, 0.35),
    ]
    summary = pd.DataFrame(rows, columns=["label", "speaker_norm", "uar"])
    assert label_uar(summary, "(d) LOSO", norm=True) == 0.32
    lines = protocol_takeaways(
        summary, classifier="svm", feature_set="kaggle162", n_speakers=6, chance=1 / 7, lopo=True
    )
    text = "\n".join(lines)
    assert "scores **70% UAR**" in text and "scores **25%** on speakers it has never heard" in text
    assert (
        "**+45 points**" in text
        and "(a) → (b), takes 15 points off" in text
        and "(b) → (d), takes 30 points off" in text
    )
    assert "(LOPO) gives 60%, close to the random split" in text
    assert "It helps most where the voice is new" in text  # +7 under LOSO against -3 under the random split
    assert "the copies do not help on unseen speakers here" in text  # 35% without copies >= 32% with them
    assert not any(
        "LOPO" in line
        for line in protocol_takeaways(
            summary, classifier="svm", feature_set="f", n_speakers=6, chance=0.14, lopo=False
        )
    )
