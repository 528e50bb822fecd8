#!/usr/bin/env python
"""Refresh the small outputs the narrative notebooks keep (issue 17), the one way to regenerate them.

Each notebook of `KEPT_OUTPUTS` runs in a fresh process as `nbdev-test --flags zoo` runs it: its `#| slow` and
`#| notest` cells are skipped (their outputs cleared), `#| zoo` cells (quick cells that read the zoo's SmolLM2 and the
data: `layerprune zoo fetch`, `layerprune data fetch`) run. Figures are PNG at the figure's own dpi, re-encoded with a
small palette; progress bars, warnings and log lines are off. The notebook is then written back and `nbdev-clean`ed
(which keeps outputs); an output naming an absolute path of this machine is an error.

    python tools/refresh_outputs.py                          # every notebook of KEPT_OUTPUTS
    python tools/refresh_outputs.py nbs/02_similarity.ipynb  # one of them
    python tools/refresh_outputs.py --check                  # rerun into a copy: fail if any output differs
"""
from __future__ import annotations
import argparse, json, os, re, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# notebook -> output kinds it must keep ("image/png", "text/html" for a table, "text/plain" for a printed value)
KEPT_OUTPUTS = {
    "00b_families": ("text/html",),
    "01_zoo": ("text/html",),
    "02_similarity": ("image/png", "text/html"),
    "03_surgery": ("text/html",),
    "04_eval": ("text/plain", "text/html"),
    "07_plots": ("image/png",),
}
RUN_FLAGS = ("zoo",)  # run these cells too (nbdev-test skips them unless asked: pyproject tst_flags)
QUIET = dict(TQDM_DISABLE="1", HF_HUB_DISABLE_PROGRESS_BARS="1", TRANSFORMERS_VERBOSITY="error",
             TRANSFORMERS_NO_ADVISORY_WARNINGS="1", TOKENIZERS_PARALLELISM="false", PYTHONHASHSEED="0", IN_TEST="1")

def machine_paths() -> list[str]:
    "Absolute paths of this machine that a committed output must not name."
    found = {str(ROOT), str(ROOT.parent), str(Path.home()), tempfile.gettempdir(), sys.prefix}
    return sorted(p for p in found if len(p) > 1)

ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:home|root|tmp|work|Users|var|private|mnt|opt)/")

def output_kinds(nb: dict) -> set[str]:
    "The kinds of output a notebook holds: mime types of displays and results, 'stream' for printed text."
    kinds = set()
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            if o["output_type"] == "stream": kinds.add("stream")
            kinds.update(o.get("data", {}))
    return kinds

def output_texts(nb: dict):
    "(cell id, text) of every textual output (streams, plain text, html, errors)."
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            parts = [o.get("text", "")] + [v for k, v in o.get("data", {}).items() if not k.startswith("image/")]
            parts += o.get("traceback", [])
            for p in parts: yield c.get("id"), "".join(p) if isinstance(p, list) else str(p)

def path_problems(nb: dict, extra: list[str] = ()) -> list[str]:
    "Outputs that name an absolute path (a machine's folder), as 'cell id: excerpt'."
    bad = []
    for cid, text in output_texts(nb):
        hit = ABSOLUTE_PATH.search(text) or next((re.search(re.escape(p), text) for p in extra if p in text), None)
        if hit: bad.append(f"{cid}: ...{text[max(0, hit.start() - 40):hit.end() + 40]}...")
    return bad

def small_png(data: str, colors: int = 64) -> str:
    "A base64 PNG re-encoded with a palette of `colors` (line plots lose nothing visible; the file shrinks 3-4x)."
    import base64, io
    from PIL import Image
    img = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    img = img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buf = io.BytesIO(); img.save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode() + "\n"

def refresh(path: Path, dest: Path | None = None) -> Path:
    "Run the notebook at `path` as nbdev-test (with RUN_FLAGS) does, in a fresh process; write it with its outputs to `dest` (default: in place)."
    import subprocess
    dest = Path(dest or path).resolve()
    subprocess.run([sys.executable, __file__, "--one", str(Path(path).resolve()), "--dest", str(dest)], check=True, cwd=ROOT)
    return dest

def _refresh_here(path: Path, dest: Path) -> Path:
    "The work of `refresh`, in this process (pyplot's open figures and rcParams are per process: one notebook each)."
    os.environ.update(QUIET)
    import warnings; warnings.filterwarnings("ignore")
    from fastcore.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.clean import nbdev_clean
    from nbdev.config import get_config
    from nbdev.test import nb_test_cells
    path, dest = Path(path).resolve(), Path(dest or path).resolve()
    flags = get_config().tst_flags
    run = {c.id for c in nb_test_cells(path, skip_flags=flags.split() if isinstance(flags, str) else flags,
                                       force_flags=list(RUN_FLAGS))}
    nb = read_nb(path)
    for c in nb.cells:
        if c.cell_type == "code": c.outputs, c.execution_count = [], None
    shell = CaptureShell(path, mpl_format="png")
    shell.run("import logging; logging.disable(logging.WARNING)")  # log lines of test cells are no reading matter
    try:
        with working_directory(path.parent):
            shell.run_all(nb, exc_stop=True, preproc=lambda c: c.cell_type != "code" or c.id not in run)
    finally: shell.close()
    for c in nb.cells:
        for o in c.get("outputs", []):
            if "image/png" in o.get("data", {}): o["data"]["image/png"] = small_png(o["data"]["image/png"])
    write_nb(nb, dest)
    with working_directory(ROOT): nbdev_clean(fname=str(dest))  # the project's [tool.nbdev] settings, wherever dest is
    bad = path_problems(json.loads(dest.read_text()), machine_paths())
    if bad: raise SystemExit(f"{path.name}: outputs name machine paths; print relative paths or names instead:\n  " + "\n  ".join(bad))
    return dest

def notebooks(args: list[str]) -> list[Path]:
    return [Path(a) for a in args] or [ROOT / "nbs" / f"{k}.ipynb" for k in KEPT_OUTPUTS]

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="*", help="notebooks to refresh (default: every one of KEPT_OUTPUTS)")
    p.add_argument("--check", action="store_true", help="run into a copy and fail if any output differs from the file's")
    p.add_argument("--one", help=argparse.SUPPRESS); p.add_argument("--dest", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one: _refresh_here(Path(a.one), Path(a.dest)); return
    failed = []
    for nb in notebooks(a.notebooks):
        if not a.check:
            refresh(nb); print(f"refreshed {nb.name}"); continue
        with tempfile.TemporaryDirectory() as d:
            out = refresh(nb, Path(d) / nb.name)
            same = json.loads(out.read_text()) == json.loads(Path(nb).read_text())
        print(f"{nb.name}: {'same outputs' if same else 'OUTPUTS DIFFER'}")
        if not same: failed.append(nb.name)
    if failed: raise SystemExit(f"Outputs differ from a fresh run in {', '.join(failed)}: run tools/refresh_outputs.py and commit.")

if __name__ == "__main__": main()
