"""Takeaways computed from this run's numbers: the sentences a notebook ends with, never written in advance.

Each function returns plain sentences (Markdown); a notebook shows them with :func:`as_markdown`.
A difference smaller than the spread across folds is called what it is: not settled by these speakers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .evaluation import CVResult
from .evidence import per_speaker, validation_gap
from .rows import mean_std

#: A fold whose validation loss was lowest by this epoch "stopped early" (the network fit its training speakers fast).
EARLY_EPOCH = 2


def _std(result: CVResult) -> float:
    values = result.per_fold["uar"].astype(float)
    return float(values.std()) if len(values) > 1 else np.nan


def _and(items: Any) -> str:
    """The items as one phrase: "a, b and c"."""
    items = list(items)
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def _settled(gap: float, spread: float) -> str:
    if not np.isfinite(spread):
        return "one fold only, so no spread to judge it by"
    if abs(gap) < spread:
        return f"less than one fold standard deviation ({spread:.3f}): not settled by these speakers"
    return f"more than one fold standard deviation ({spread:.3f})"


def network_takeaways(
    results: Mapping[str, CVResult],
    *,
    reference: pd.Series | None = None,
    lopo: Mapping[str, CVResult] | None = None,
) -> list[str]:
    """What a run of networks under LOSO says: the best, how far ahead of the next, against chance and the
    classical reference, how fast validation loss turned, LOPO against LOSO, and the cost per epoch."""
    if not results:
        return ["No network ran."]
    ranked = sorted(results.items(), key=lambda item: item[1].mean(), reverse=True)
    name, best = ranked[0]
    chance = float(best.chance.get("uar", np.nan))
    lines = [
        f"The best network under LOSO is **{name}**: UAR {best.cell()}, {best.mean() / chance:.1f}× chance "
        f"({chance:.3f})."
    ]
    if len(ranked) > 1:
        runner_up, second = ranked[1]
        gap = best.mean() - second.mean()
        lines.append(f"It leads **{runner_up}** by {gap:.3f}, {_settled(gap, _std(best))}.")
        last, worst = ranked[-1]
        if last != runner_up:
            lines.append(f"The weakest is **{last}** ({worst.cell()}).")
    if reference is not None:
        uar, features = float(reference["uar"]), str(reference.get("features", ""))
        # a network on the classical model's own input compares the learners, with the input held fixed
        same = next((n for n, r in ranked if str(r.features) == features), None)
        held = ""
        if same is not None:
            gap = results[same].mean() - uar
            held = ": with the input held fixed, the gap is the learner's" if -gap >= _std(results[same]) else ""
        delta = best.mean() - uar
        own = f"; it reads the classical model's own input ({features}){held}" if same == name else ""
        lines.append(
            f"Against the best classical model (**{reference['experiment']}**, UAR "
            f"{mean_std(uar, float(reference.get('uar_std', np.nan)))}), the best network is "
            f"{'ahead' if delta > 0 else 'behind'} by {abs(delta):.3f}, {_settled(delta, _std(best))}{own}."
        )
        if same not in (None, name):
            lines.append(
                f"On the same input ({features}), **{same}** reaches {results[same].cell()}, "
                f"{'ahead of' if gap > 0 else 'behind'} the classical model by {abs(gap):.3f}, "
                f"{_settled(gap, _std(results[same]))}{held}."
            )
    folds = pd.concat([r.per_fold for r in results.values()], ignore_index=True)
    if "best_epoch" in folds and len(folds):
        early = int((folds["best_epoch"] <= EARLY_EPOCH).sum())
        lines.append(
            f"In {early} of {len(folds)} folds the validation speakers' loss was lowest by epoch {EARLY_EPOCH} "
            f"(median best epoch {folds['best_epoch'].median():.0f}): "
            + (
                "the networks learn the training speakers faster than the emotions, and early stopping is what "
                "keeps them honest."
                if early >= len(folds) / 3
                else "most folds kept improving for a while before stopping."
            )
        )
    promised = validation_gap({name: best})
    if len(promised):
        row = promised.iloc[0]
        lines.append(
            f"**{name}**'s validation data scored {row['validation accuracy']:.3f} accuracy at the epochs they "
            f"chose, its test speakers {row['test accuracy']:.3f} ("
            + (
                f"validation promised more in {row['folds where validation was higher']} folds: the epochs were "
                "chosen on data that flattered the network"
                if row["gap"] > 0.05
                else "on average validation did not over-promise"
            )
            + (
                f"; fold by fold it hardly tracked the test speaker (correlation {row['correlation across folds']:.2f}):"
                " a little validation data is a noisy guide to the next voice"
                if row["correlation across folds"] < 0.3
                else ""
            )
            + ")."
        )
    for lopo_name, result in (lopo or {}).items():
        if lopo_name in results:
            gap = result.mean() - results[lopo_name].mean()
            lines.append(
                f"**{lopo_name}** under LOPO (unseen sentences): {result.cell()} against {results[lopo_name].cell()} "
                f"under LOSO (unseen speakers); {'new speakers' if gap > 0 else 'new sentences'} are the harder test "
                f"here, by {abs(gap):.3f}."
            )
    costs = {n: r.epoch_seconds for n, r in results.items() if np.isfinite(r.epoch_seconds)}
    if len(costs) > 1:
        cheap, dear = min(costs, key=costs.get), max(costs, key=costs.get)
        lines.append(
            f"Training cost per epoch ranges from {costs[cheap]:.2f} s (**{cheap}**) to {costs[dear]:.2f} s "
            f"(**{dear}**) on {best.info.get('device', 'this machine')}."
        )
    return lines


def transfer_takeaways(
    results: Mapping[tuple[str, bool, str], CVResult],
    *,
    transfer: str | None,
    protocols: Sequence[str],
    zero_shot: CVResult | None = None,
    source_speakers: int | None = None,
    target_speakers: int | None = None,
    speaker_curve: pd.DataFrame | None = None,
    by_seed: pd.DataFrame | None = None,
) -> list[str]:
    """What notebook 08's runs say: transfer against the target alone under each protocol, every strategy
    under LOSO, the random split against LOSO, augmentation's effect, and the zero-shot floor. Keys:
    (strategy, augmented, protocol). ``source_speakers`` / ``target_speakers``: how many voices the source
    corpora and the target brought; ``speaker_curve``: pooled training against the number of source
    speakers (:func:`ser_utils.transfer.speaker_curve`); ``by_seed``: the LOSO gain seed by seed
    (:func:`ser_utils.transfer.seed_gains`)."""
    lines = []
    for protocol in protocols:
        scratch = results.get(("scratch", False, protocol))
        moved = results.get((transfer, False, protocol)) if transfer else None
        if scratch is not None and moved is not None:
            gap = moved.mean() - scratch.mean()
            lines.append(
                f"{protocol.upper()}: transfer ({transfer}) {moved.cell()} against the target alone {scratch.cell()}, "
                f"{'a gain' if gap > 0 else 'a loss'} of {abs(gap):.3f}, {_settled(gap, _std(scratch))}."
            )
            if protocol == "loso":
                each = per_speaker({"transfer": moved, "target only": scratch})
                ahead = int((each["transfer"] > each["target only"]).sum())
                lines.append(f"Speaker by speaker, transfer is ahead on {ahead} of {len(each)} test speakers.")
    loso_runs = {s: r for (s, augmented, p), r in results.items() if p == "loso" and not augmented}
    if len(loso_runs) > 2:
        ranked = sorted(loso_runs, key=lambda s: -loso_runs[s].mean())
        lines.append(
            "Every strategy under LOSO, best first: " + ", ".join(f"{s} {loso_runs[s].cell()}" for s in ranked) + "."
        )
    if source_speakers and target_speakers:
        n = target_speakers - 1
        lines.append(
            f"The source corpora brought {source_speakers} speakers; each LOSO fold had {n} target "
            f"speaker{'s' if n != 1 else ''} to train and validate on."
        )
    if speaker_curve is not None and len(speaker_curve) > 2:
        means = speaker_curve["mean"]
        steady = bool((means.diff().dropna() > 0).all())
        lines.append(
            f"Pooled with {_and(map(str, speaker_curve.index))} source speakers, LOSO UAR was "
            f"{_and(f'{m:.3f}' for m in means)}: it {'rose' if steady else 'did not rise'} at every step "
            f"({means.iloc[-1] - means.iloc[0]:+.3f} from the first to the last; one seed's curve)."
        )
    per_seed = by_seed["gain"] if by_seed is not None else pd.Series(dtype=float)
    per_seed = per_seed[per_seed.index.astype(str).str.startswith("seed ")]  # the seeds' rows, not their mean and std
    if len(per_seed) > 1:
        mean, spread = per_seed.mean(), per_seed.std()
        ahead = int((per_seed > 0).sum())
        lines.append(
            f"Over seeds {_and(i.split()[-1] for i in per_seed.index)}, the LOSO gain of transfer was "
            f"{_and(f'{g:+.3f}' for g in per_seed)}: {mean:+.3f} on average, "
            + (f"ahead at {ahead} of {len(per_seed)} seeds" if ahead else "behind or level at every seed")
            + (
                f", no more than its spread over seeds ({spread:.3f}): these runs do not settle it."
                if abs(mean) <= spread
                else f", more than its spread over seeds ({spread:.3f})."
            )
        )
    random, loso = results.get(("scratch", False, "random")), results.get(("scratch", False, "loso"))
    if random is not None and loso is not None:
        lines.append(
            f"The random split puts the target-only network at {random.cell()}, LOSO at {loso.cell()}: "
            f"{random.mean() - loso.mean():+.3f} from letting test speakers into training."
        )
    plain, augmented = results.get(("scratch", False, "loso")), results.get(("scratch", True, "loso"))
    if plain is not None and augmented is not None:
        gap = augmented.mean() - plain.mean()
        lines.append(
            f"Augmentation under LOSO (target only): {augmented.cell()} against {plain.cell()}, "
            f"{'a gain' if gap > 0 else 'a loss'} of {abs(gap):.3f}, {_settled(gap, _std(plain))}."
        )
    if zero_shot is not None:
        chance = float(zero_shot.chance.get("uar", np.nan))
        line = (
            f"Without any target training (zero-shot) the source network reaches {zero_shot.cell()} on the shared "
            f"emotions (chance {chance:.3f}): what the source alone knows of the target"
        )
        same_task = {s: r for s, r in loso_runs.items() if set(r.labels) == set(zero_shot.labels)}  # same emotions
        best = max(same_task, key=lambda s: same_task[s].mean(), default=None)
        if best is not None and zero_shot.mean() > same_task[best].mean():
            gap = zero_shot.mean() - same_task[best].mean()
            line += (
                f", above every strategy trained on target clips under LOSO (best: {best} {same_task[best].cell()}) "
                f"by {gap:.3f}, {_settled(gap, _std(same_task[best]))}"
            )
        lines.append(line + ".")
    return lines or ["No transfer run to compare."]


def as_markdown(lines: Sequence[Any], title: str = "Takeaways from this run") -> str:
    """The sentences as a Markdown list under a bold title."""
    return f"**{title}**\n\n" + "\n".join(f"- {line}" for line in lines)


def replication_takeaways(card: pd.DataFrame) -> list[str]:
    """What the replication scorecard (:func:`ser_utils.replication.scorecard`) says, in three lines."""
    drops = card["honest − reported"].dropna()
    falls = int(card["verdict"].str.contains("does not survive").sum())
    holds = int(card["verdict"].str.contains("holds under").sum())
    lines = [
        f"{len(card)} claims from {card['study'].nunique()} studies; {len(drops)} have an honest figure in this run.",
        f"{falls} do not survive speaker-independent testing, {holds} hold.",
    ]
    if len(drops):
        worst = card.loc[drops.idxmin()]
        lines.append(
            f"Median honest − reported: {drops.median():+.3f}; the largest drop is {drops.min():+.3f} "
            f"({worst['study']}: {worst['claim']})."
        )
    reproduced = card[card["verdict"].str.startswith("reproduced")]
    if len(reproduced):
        lines.append(
            f"Their own protocol gives back {len(reproduced)} claim(s) within ±0.10 on this corpus: "
            + ", ".join(f"{s} ({c})" for s, c in zip(reproduced["study"], reproduced["claim"]))
            + "."
        )
    return lines


def label_uar(summary: pd.DataFrame, label: str, norm: bool = False) -> float:
    """The UAR of notebook 03's recipe ``label`` (e.g. "(d) LOSO"), raw or speaker-normalised; NaN if it did not run."""
    rows = summary[(summary["label"] == label) & (summary["speaker_norm"] == norm)]
    return float(rows["uar"].iloc[0]) if len(rows) else float("nan")


def protocol_takeaways(
    summary: pd.DataFrame, *, classifier: str, feature_set: str, n_speakers: int, chance: float, lopo: bool
) -> list[str]:
    """Notebook 03 in plain words: what leakage is worth, split into its parts (copies, voices), LOPO,
    speaker normalisation and the augmented copies, from its ``results_table`` (one row per label and setting)."""

    def uar(label: str, norm: bool = False) -> float:
        return label_uar(summary, label, norm)

    def points(before: float, after: float) -> str:
        delta = 100 * (after - before)
        return f"takes {-delta:.0f} points off" if delta < 0 else f"adds {delta:.0f} points"

    a, b, d = uar("(a) leaky"), uar("(b) random"), uar("(d) LOSO")
    d_norm, b_norm, e = uar("(d) LOSO", True), uar("(b) random", True), uar("(e) LOPO")
    lines = [
        f"**In plain words.** Done the way many public notebooks do it, this {classifier.upper()} on `{feature_set}` "
        f"scores **{a:.0%} UAR**. The same classifier, with the same features and grid, scores **{d:.0%}** on "
        f"speakers it has never heard (LOSO over {n_speakers} speakers; chance is {chance:.0%}). The difference, "
        f"**{100 * (a - d):+.0f} points**, is what leakage is worth here, and none of it is emotion recognition.",
        f"* Keeping the copies of test clips out of training and choosing the classifier without looking at the test "
        f"part, (a) → (b), {points(a, b)}: the part that came from recognising recordings already seen in another form.",
        f"* Holding out whole speakers, (b) → (d), {points(b, d)}: the part that came from recognising voices "
        f"already heard (a little of it is also the smaller training set of a LOSO fold).",
    ]
    if lopo:
        closer = (
            ", close to the random split: speakers, not sentences, are what leaks here."
            if abs(e - b) < abs(e - d)
            else "."
        )
        lines.append(f"* Holding out sentences instead of speakers (LOPO) gives {e:.0%}{closer}")
    lines.append(
        f"* Speaker normalisation moves LOSO from {d:.0%} to {d_norm:.0%} ({100 * (d_norm - d):+.0f} points) and the "
        f"random split from {b:.0%} to {b_norm:.0%} ({100 * (b_norm - b):+.0f}). "
        + (
            "It helps most where the voice is new. Where the test voices were already in training it helps less, or "
            "costs points: it removes the speaker cues a random split rewards."
            if (d_norm - d) > (b_norm - b)
            else "Here its gain is not specific to unseen speakers."
        )
    )
    no_copies = uar("(d′) LOSO, no copies", True)
    lines.append(
        f"* Without the augmented copies, (d′), speaker-normalised LOSO scores {no_copies:.0%} against {d_norm:.0%} "
        f"with them: "
        + (
            "the copies do not help on unseen speakers here. They multiply rows, not speakers, and a pitch or "
            "noise change can blur the very cues that carry emotion."
            if no_copies >= d_norm
            else f"the copies add {100 * (d_norm - no_copies):.0f} points on unseen speakers."
        )
    )
    return lines
