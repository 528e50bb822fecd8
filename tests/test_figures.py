"The figure notebook, as papermill runs it, on a tiny model with the tiny budget: every figure and table is written."
import json
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest

from layerprune.models import tiny_checkpoint

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ["fig1c_distance_curves", "fig4_distance_heatmap", "fig5_metrics_vs_fraction", "fig3_c4_loss_healing"]


def test_family_notebook_writes_every_figure(tmp_path, smollm2_dir, data_dir):
    ck = tiny_checkpoint(tmp_path / "tiny", smollm2_dir, n_layers=4)
    out = tmp_path / "figures" / "tiny"
    out.mkdir(parents=True)
    pm.execute_notebook(str(ROOT / "figures" / "family.ipynb"), str(out / "family.ipynb"), cwd=str(out), progress_bar=False,
                        parameters=dict(model=str(ck), family="tiny", profile="tiny", out_dir=str(out), data_dir=str(data_dir)))
    for name in FIGURES:
        for ext in ("png", "pdf"):
            f = out / f"{name}_tiny.{ext}"
            assert f.exists() and f.stat().st_size > 1000, f
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 1 + 2 * 3 + 2 and df.healed.sum() == 2  # unpruned + 2 strategies x n=1..3 + healed n=1
    assert df[["mmlu_micro", "boolq", "c4_loss"]].notna().all().all()
    assert len(pd.read_csv(out / "summary.csv")) >= 4
    nb = json.loads((out / "family.ipynb").read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_figures_command_shows_progress_and_keeps_the_notebook_clean(tmp_path, smollm2_dir, data_dir, capsys):
    "`layerprune figures` echoes the run's stages to the terminal; the executed notebook holds no warnings or progress bars."
    import shutil
    from layerprune.cli import main
    ck = tiny_checkpoint(tmp_path / "tiny", smollm2_dir, n_layers=4)
    fdir = tmp_path / "figures"
    (fdir / "params").mkdir(parents=True)
    shutil.copy(ROOT / "figures" / "family.ipynb", fdir / "family.ipynb")
    (fdir / "params" / "tiny.yaml").write_text(f"model: {ck}\nfamily: tiny\nprofile: tiny\n")
    main(["figures", "--family", "tiny", "--figures-dir", str(fdir), "--no-cross-family",
          "--params", json.dumps({"data_dir": str(data_dir)})])
    shown = capsys.readouterr().out
    for stage in ("data:", "model:", "distances:", "point 1/", "heal 1/", "figures:"):
        assert stage in shown, (stage, shown)
    nb = json.loads((fdir / "tiny" / "family.ipynb").read_text())
    streams = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "stream"]
    assert not [o for o in streams if o["name"] == "stderr"], [("".join(o["text"]))[:200] for o in streams if o["name"] == "stderr"]


@pytest.mark.parametrize("record", sorted(p.parent.name for p in (ROOT / "figures").glob("*/family.ipynb")))
def test_committed_record_reads_as_a_section(record):
    "Each committed executed notebook shows its figures inline with a caption, a generated reading, and no machine paths or noise."
    nb = json.loads((ROOT / "figures" / record / "family.ipynb").read_text())
    outs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    pngs = [o for o in outs if "image/png" in o.get("data", {})]
    texts = ["".join(o.get("data", {}).get("text/markdown", "")) for o in outs]
    assert len(pngs) >= 3, f"{record}: {len(pngs)} inline figures"
    assert sum(t.startswith("*Fig.") for t in texts) == len(pngs), f"{record}: a figure without its caption"
    assert any(t.startswith("- Scale:") for t in texts), f"{record}: no generated reading"
    raw = (ROOT / "figures" / record / "family.ipynb").read_text()
    for bad in ("/root/", "/work/", "/home/", "Warning", "it/s]"):
        assert bad not in raw, f"{record}: {bad!r} in the executed notebook"


def test_family_parameters_cell_is_written_from_sweepconfig():
    "The committed parameters cell of figures/family.ipynb is `sweep.parameters_cell()`: SweepConfig's fields, one wording."
    from layerprune.sweep import parameters_cell
    nb = json.loads((ROOT / "figures" / "family.ipynb").read_text())
    cell = next("".join(c["source"]) for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    assert cell == parameters_cell(), ("figures/family.ipynb's parameters cell is out of date; rewrite it with "
                                       'python -c "from layerprune.sweep import write_parameters_cell; write_parameters_cell()"')
