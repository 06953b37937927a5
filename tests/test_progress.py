"""Progress bars: live where someone watches, one line per step in an executed report."""

from __future__ import annotations

from ser_utils.progress import REPORT_ENV, StepLine, progress_bar


def test_in_a_report_a_bar_prints_one_line_when_its_step_ends(monkeypatch, capsys) -> None:
    monkeypatch.setenv(REPORT_ENV, "1")
    bar = progress_bar(range(5), desc="kaggle162 features", unit="file")
    assert isinstance(bar, StepLine)
    assert list(bar) == [0, 1, 2, 3, 4]
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kaggle162 features: 5 files in ")


def test_partial_steps_say_how_many_of_the_total(monkeypatch, capsys) -> None:
    monkeypatch.setenv(REPORT_ENV, "1")
    with progress_bar(total=4, desc="experiments", unit="experiment") as bar:
        bar.update(3)
    bar.close()
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("experiments: 3 of 4 experiments in ")


def test_outside_a_report_the_bar_is_tqdm(monkeypatch) -> None:
    monkeypatch.delenv(REPORT_ENV, raising=False)
    bar = progress_bar(range(3), desc="x", disable=True)
    assert not isinstance(bar, StepLine)
    assert list(bar) == [0, 1, 2]
    monkeypatch.setenv(REPORT_ENV, "0")
    assert not isinstance(progress_bar(range(3)), StepLine)


def test_a_disabled_bar_prints_nothing_even_in_a_report(monkeypatch, capsys) -> None:
    monkeypatch.setenv(REPORT_ENV, "1")
    assert list(progress_bar(range(3), desc="quiet", disable=True)) == [0, 1, 2]
    assert capsys.readouterr().out == ""


def test_a_consumer_that_stops_with_the_last_item_counts_every_item(monkeypatch, capsys) -> None:
    monkeypatch.setenv(REPORT_ENV, "1")
    folds = ["f1", "f2"]
    pairs = list(zip(folds, progress_bar(iter([1, 2]), total=2, desc="cnn1 · LOSO", unit="fold")))
    assert len(pairs) == 2
    bar_line = capsys.readouterr().out.strip()
    assert bar_line.startswith("cnn1 · LOSO: 2 folds in "), bar_line
