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
    assigned = {
        target.id
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert assigned == set(declared_parameters(path))


def _parameters_and_later_code(nb) -> tuple[list[str], list[str]]:
    """(names assigned in the parameters cell, in order; the code cells after it, IPython magics turned into Python)."""
    import ast

    from IPython.core.inputtransformer2 import TransformerManager

    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    names = [
        target.id
        for node in ast.parse(nb.cells[index].source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    transform = TransformerManager().transform_cell
    return names, [transform(c.source) for c in nb.cells[index + 1 :] if c.cell_type == "code"]


def unused_parameters(nb) -> list[str]:
    """Parameters the notebook declares but never reads after its parameters cell (in declaration order).

    A parameter counts as used when some later code cell reads its name (an ``ast.Name`` in a Load
    context: an expression, a call argument, an f-string ...). The parameters run_all.py injects
    (dataset, data_dir, reports_dir) follow the same rule: declared, they must be read.
    """
    import ast

    names, cells = _parameters_and_later_code(nb)
    read = {
        node.id
        for source in cells
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    return [name for name in names if name not in read]


def test_unused_parameter_detector_on_a_small_notebook() -> None:
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_markdown_cell("# t"),
            new_code_cell(
                "dataset = 'demo'\ndata_dir = None\nreports_dir = None\nseed = 0\nepochs = 3\nleft = 1\nshadowed = 2",
                metadata={"tags": ["parameters"]},
            ),
            new_code_cell("%matplotlib inline\nprint(f'{dataset}', seed)\nshadowed = 5\nleft\n"),
            new_markdown_cell("epochs and data_dir are only mentioned here"),
            new_code_cell("!echo hi\nrun(epochs=epochs, out=reports_dir)"),
        ]
    )
    # a name only assigned again (shadowed) or only written in markdown (data_dir) is not used
    assert unused_parameters(nb) == ["data_dir", "shadowed"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_declared_parameter_is_used(path) -> None:
    """A parameter the notebook never reads is a knob that does nothing: run_all.py -p would accept it silently."""
    unused = unused_parameters(nbformat.read(path, as_version=4))
    assert not unused, (
        f"{path.name} declares parameter(s) it never reads after its parameters cell: "
        f"{', '.join(unused)} (use them, or remove them from the parameters cell and params/*.yaml)"
    )
