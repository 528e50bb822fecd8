"The narrative notebooks keep small outputs (issue 17): each holds its kinds of output, small, quiet, without machine paths."
import base64, importlib.util, io, json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_OUTPUT_BYTES = 150_000  # all outputs of one notebook, as stored

def _tool():
    spec = importlib.util.spec_from_file_location("refresh_outputs", ROOT / "tools" / "refresh_outputs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

TOOL = _tool()
FIX = "run `python tools/refresh_outputs.py nbs/{}.ipynb` and commit the notebook"

def _nb(name: str) -> dict: return json.loads((ROOT / "nbs" / f"{name}.ipynb").read_text())
def _outputs(nb: dict): return [(c, o) for c in nb["cells"] for o in c.get("outputs", [])]

@pytest.mark.parametrize("name", sorted(TOOL.KEPT_OUTPUTS))
def test_notebook_keeps_its_kinds_of_output(name):
    missing = set(TOOL.KEPT_OUTPUTS[name]) - TOOL.output_kinds(_nb(name))
    assert not missing, f"nbs/{name}.ipynb holds no {', '.join(sorted(missing))} output: " + FIX.format(name)

@pytest.mark.parametrize("name", sorted(TOOL.KEPT_OUTPUTS))
def test_outputs_are_small_quiet_and_name_no_machine_path(name):
    nb = _nb(name)
    assert TOOL.path_problems(nb) == []
    size = sum(len(json.dumps(o)) for _, o in _outputs(nb))
    assert size < MAX_OUTPUT_BYTES, f"nbs/{name}.ipynb keeps {size:,} bytes of outputs (at most {MAX_OUTPUT_BYTES:,})"
    for c, o in _outputs(nb):
        assert o["output_type"] != "error", f"{name}:{c['id']} kept an error"
        assert o.get("name") != "stderr", f"{name}:{c['id']} kept stderr: {''.join(o['text'])[:200]}"
        src = "".join(c["source"])
        assert "#| slow" not in src and "#| notest" not in src, f"{name}:{c['id']}: a skipped cell kept outputs"
    text = "".join(t for _, t in TOOL.output_texts(nb))
    for noise in ("Warning:", "it/s]", "s/it]", "%|"): assert noise not in text, f"{name} output carries {noise!r}"

@pytest.mark.parametrize("name", sorted(TOOL.KEPT_OUTPUTS))
def test_outputs_are_clean(name):
    "What nbdev-clean leaves: no execution counts, no output metadata beyond the allowed."
    for c, o in _outputs(_nb(name)):
        assert c.get("execution_count") is None and o.get("execution_count") is None
        assert not o.get("metadata"), f"{name}:{c['id']} output metadata {o.get('metadata')}"

def test_path_problems_finds_machine_paths():
    nb = lambda text: {"cells": [{"id": "x", "outputs": [{"output_type": "stream", "name": "stdout", "text": [text]}]}]}
    assert TOOL.path_problems(nb("model=/root/.cache/layerprune/models/smollm2-135m"))
    assert TOOL.path_problems(nb("wrote /tmp/tmpab12/fig.png"))
    assert TOOL.path_problems(nb("in /data/me/run"), extra=["/data/me"])
    assert TOOL.path_problems(nb("figures/smollm2-135m/distances.npz, 1/2 and a/b")) == []

def test_small_png_keeps_the_picture():
    from PIL import Image
    import numpy as np
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.plot(np.sin(np.linspace(0, 6, 200))); ax.set_title("a sine")
    buf = io.BytesIO(); fig.savefig(buf, format="png"); plt.close(fig)
    raw = base64.b64encode(buf.getvalue()).decode()
    small = TOOL.small_png(raw)
    assert len(small) < len(raw)
    a = np.asarray(Image.open(io.BytesIO(base64.b64decode(raw))).convert("RGB"), dtype=float)
    b = np.asarray(Image.open(io.BytesIO(base64.b64decode(small))).convert("RGB"), dtype=float)
    assert a.shape == b.shape and np.abs(a - b).mean() < 2  # same size, same picture to the eye
    assert TOOL.small_png(raw) == small  # deterministic

@pytest.mark.slow
@pytest.mark.parametrize("name", ["00b_families", "02_similarity"])
def test_a_fresh_run_gives_the_committed_outputs(name, tmp_path):
    out = TOOL.refresh(ROOT / "nbs" / f"{name}.ipynb", tmp_path / f"{name}.ipynb")
    assert json.loads(out.read_text()) == _nb(name), f"nbs/{name}.ipynb differs from a fresh run: " + FIX.format(name)
