"""Source notebooks are committed without outputs and follow the project's conventions."""

from __future__ import annotations

import nbformat
import pytest

from run_all import NOTEBOOK_DIR, discover_notebooks
from ser_utils.params import declared_parameters

NOTEBOOKS = discover_notebooks()
#: Every notebook accepts these, so run_all.py can point it at the data and the reports folder.
REQUIRED_PARAMETERS = {"dataset", "data_dir", "reports_dir", "seed"}


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, f"no numbered notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path) -> None:
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run `nbstripout {path}` before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_structure(path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "start with a title"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert REQUIRED_PARAMETERS <= set(declared_parameters(path))
    nbformat.validate(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_visible_to_papermill(path) -> None:
    """Each top-level assignment in the parameters cell is a parameter papermill can parse (a comment it
    cannot read, e.g. one with '=' in parentheses, silently hides the parameter from run_all.py)."""
    import ast

    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assigned = {target.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    assert assigned == set(declared_parameters(path))
