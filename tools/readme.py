"""README.md, rendered from nbs/index.ipynb (nbdev's `readme_nb`), with the generated tables filled in.

    python tools/readme.py            # write README.md
    python tools/readme.py --check    # exit 1 if README.md is not the rendering (tests/test_readme.py checks the same)

nbdev's own `nbdev-readme` needs quarto; this is the small part of it the project uses. index.ipynb is the source of
the README's text: markdown cells as they are, code cells as ```python blocks (directive lines `#| ...` dropped, cells
marked `#| hide` left out), and their small text outputs as plain blocks. Tables that are generated elsewhere appear in
index.ipynb as an empty pair of BEGIN/END comments, which the rendering fills:
- the results overview, from bench/results_overview.py (the committed results.csv of every run);
- the performance table, from bench/summary.py and bench/summary.json (the committed raw records).
Edit index.ipynb (or those scripts), then run this. This is a documentation tool, not the library: it lives under
tools/ and layerprune never imports it.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
INDEX = "nbs/index.ipynb"
MAX_OUTPUT_LINES = 20  # a longer output is not "small": it stays in the notebook, out of the README


def script(root: Path, rel: str) -> ModuleType:
    "A bench/ script loaded as a module (they are scripts, not a package)."
    spec = importlib.util.spec_from_file_location(Path(rel).stem, root / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def generated_blocks(root: Path) -> list[tuple[str, str, str]]:
    "(BEGIN comment, END comment, fresh content) of each generated table."
    ov, sm = script(root, "bench/results_overview.py"), script(root, "bench/summary.py")
    summary = json.loads((root / "bench" / "summary.json").read_text())
    return [(ov.BEGIN, ov.END, ov.overview(root)), (sm.BEGIN, sm.END, sm.table(summary))]


def _text(x) -> str: return "".join(x) if isinstance(x, list) else x


def output_text(out: dict) -> str | None:
    "The text of a small output (stream, or a result's markdown or plain text); None for anything else."
    if out.get("output_type") == "stream": text = _text(out["text"])
    elif out.get("output_type") in ("execute_result", "display_data"):
        data = out.get("data", {})
        if "text/markdown" in data: return _text(data["text/markdown"]).strip("\n")
        if "text/plain" not in data: return None
        text = _text(data["text/plain"])
    else: return None
    text = text.strip("\n")
    return f"```\n{text}\n```" if text and text.count("\n") < MAX_OUTPUT_LINES else None


def render_cell(cell: dict) -> list[str]:
    "The README parts of one cell."
    src = _text(cell["source"]).strip("\n")
    if cell["cell_type"] == "markdown": return [src] if src else []
    if cell["cell_type"] != "code": return []
    lines = src.splitlines()
    directives = [l.removeprefix("#|").strip() for l in lines if l.startswith("#|")]
    if "hide" in directives: return []
    code = "\n".join(l for l in lines if not l.startswith("#|")).strip("\n")
    parts = [f"```python\n{code}\n```"] if code else []
    return parts + [t for o in cell.get("outputs", []) if (t := output_text(o))]


def fill(text: str, blocks: list[tuple[str, str, str]]) -> str:
    "`text` with the content between each BEGIN and END comment replaced by the fresh content."
    for begin, end, content in blocks:
        if begin not in text or end not in text:
            raise ValueError(f"{INDEX} lacks the markers of a generated table: {begin!r} ... {end!r}; put both back")
        head, rest = text.split(begin, 1)
        text = f"{head}{begin}\n{content}\n{end}{rest.split(end, 1)[1]}"
    return text


def render(root: Path = ROOT) -> str:
    "README.md's text: index.ipynb's cells in order, generated tables filled in."
    nb = json.loads((root / INDEX).read_text())
    text = "\n\n".join(p for c in nb["cells"] for p in render_cell(c)) + "\n"
    return fill(text, generated_blocks(root))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md differs from the rendering, write nothing")
    args = ap.parse_args(argv)
    text, readme = render(), ROOT / "README.md"
    if args.check:
        if readme.read_text() == text: return 0
        print(f"README.md is not the rendering of {INDEX}: edit {INDEX}, then run `python tools/readme.py`", file=sys.stderr)
        return 1
    sys.path.insert(0, str(ROOT))  # run as a script from a plain checkout
    from layerprune.files import atomic_write_text
    atomic_write_text(readme, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
