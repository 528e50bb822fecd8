"README.md is the rendering of nbs/index.ipynb by tools/readme.py (nbdev's readme_nb), generated tables filled in."
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_readme_tool():
    spec = importlib.util.spec_from_file_location("readme", ROOT / "tools" / "readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_is_the_rendering_of_index():
    rd = load_readme_tool()
    assert (ROOT / "README.md").read_text() == rd.render(ROOT), \
        "README.md is not the rendering of nbs/index.ipynb: edit the notebook, then run `python tools/readme.py`"


def test_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert lines[0] == "# layerprune" and len(lines) <= 160, f"{len(lines)} lines: move detail to docs/ or bench/"


def test_index_holds_the_generated_tables_as_markers_only():
    "One source per table: index.ipynb has each BEGIN/END pair with nothing between; the scripts make the content."
    rd = load_readme_tool()
    text = "".join("".join(c["source"]) for c in json.loads((ROOT / rd.INDEX).read_text())["cells"])
    for begin, end, content in rd.generated_blocks(ROOT):
        assert f"{begin}\n{end}" in text and content.strip()


def _nb(*cells) -> dict:
    return dict(cells=[dict(cell_type=t, source=s, outputs=o, metadata={}) for t, s, o in cells])


def test_render_cells_on_a_hand_built_notebook():
    rd = load_readme_tool()
    stream = dict(output_type="stream", name="stdout", text=["6\n"])
    big = dict(output_type="execute_result", data={"text/plain": "\n".join(map(str, range(50)))})
    image = dict(output_type="display_data", data={"image/png": "iVBOR"})
    md = dict(output_type="display_data", data={"text/markdown": "| a |\n|---|", "text/plain": "<Markdown>"})
    nb = _nb(("markdown", "# t\n\n> one line", []), ("code", "#| hide\nimport secret", [stream]),
             ("code", "#| eval: false\nx = 1\nprint(x)", [stream, big, image, md]), ("raw", "skip", []))
    parts = [p for c in nb["cells"] for p in rd.render_cell(c)]
    assert parts == ["# t\n\n> one line", "```python\nx = 1\nprint(x)\n```", "```\n6\n```", "| a |\n|---|"]


def test_fill_replaces_between_markers_and_names_missing_ones():
    rd = load_readme_tool()
    blocks = [("<!-- B -->", "<!-- E -->", "fresh")]
    assert rd.fill("a\n<!-- B -->\nold\n<!-- E -->\nz", blocks) == "a\n<!-- B -->\nfresh\n<!-- E -->\nz"
    with pytest.raises(ValueError, match="markers"):
        rd.fill("no table here", blocks)
