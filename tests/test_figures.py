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
    out = tmp_path / "records" / "tiny"
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
    settings = [json.loads(s) for s in df.settings]  # no machine folder: out_dir relative to the kernel's folder, data_dir outside it
    assert {(s["out_dir"], s["data_dir"]) for s in settings} == {(".", None)}, settings[0]
    assert str(data_dir) not in (out / "config.json").read_text()
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
    nb = json.loads((tmp_path / "records" / "tiny" / "family.ipynb").read_text())  # records/ beside the figures folder
    streams = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "stream"]
    assert not [o for o in streams if o["name"] == "stderr"], [("".join(o["text"]))[:200] for o in streams if o["name"] == "stderr"]


@pytest.mark.parametrize("record", sorted(p.parent.name for p in (ROOT / "records").glob("*/family.ipynb")))
def test_committed_record_reads_as_a_section(record):
    "Each committed executed notebook shows its figures inline with a caption, a generated reading, and no machine paths or noise."
    nb = json.loads((ROOT / "records" / record / "family.ipynb").read_text())
    outs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    pngs = [o for o in outs if "image/png" in o.get("data", {})]
    texts = ["".join(o.get("data", {}).get("text/markdown", "")) for o in outs]
    assert len(pngs) >= 3, f"{record}: {len(pngs)} inline figures"
    assert sum(t.startswith("*Fig.") for t in texts) == len(pngs), f"{record}: a figure without its caption"
    assert any(t.startswith("- Scale:") for t in texts), f"{record}: no generated reading"
    raw = (ROOT / "records" / record / "family.ipynb").read_text()
    for bad in ("/root/", "/work/", "/home/", "Warning", "it/s]"):
        assert bad not in raw, f"{record}: {bad!r} in the executed notebook"


def test_family_parameters_cell_is_written_from_sweepconfig():
    "The committed parameters cell of figures/family.ipynb is `sweep.parameters_cell()`: SweepConfig's fields, one wording."
    from layerprune.sweep import parameters_cell
    nb = json.loads((ROOT / "figures" / "family.ipynb").read_text())
    cell = next("".join(c["source"]) for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    assert cell == parameters_cell(), ("figures/family.ipynb's parameters cell is out of date; rewrite it with "
                                       'python -c "from layerprune.sweep import write_parameters_cell; write_parameters_cell()"')


def _committed(folder: str) -> list[Path]:
    import subprocess
    out = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / f for f in out.splitlines()]


ABSOLUTE = __import__("re").compile(r"(?<![\w.~$-])/(?:root|home|work|tmp|Users|mnt|opt|scratch|data|var|srv)/")


def test_no_committed_record_holds_a_machine_path():
    "Every committed file under records/ (text, and the metadata of each .npz) names no absolute folder of a machine."
    import numpy as np
    files = _committed("records")
    assert len(files) > 300, len(files)
    bad = []
    for f in files:
        if f.suffix in (".png", ".pdf"): continue
        if f.suffix == ".npz":
            with np.load(f, allow_pickle=False) as z:
                text = " ".join(str(z[k]) for k in z.files if z[k].dtype.kind in "US")
        else: text = f.read_text()
        bad += [f"{f.relative_to(ROOT)}: {m.group()}" for m in ABSOLUTE.finditer(text)]
    assert not bad, bad[:10]
    assert ABSOLUTE.search('"out_dir": "/root/runs/x"') and not ABSOLUTE.search('"out_dir": "records/x/work/y"')


def _sweep_records() -> list[Path]:
    "Every committed sweep run folder: a config.json beside points/ (the ablations' sub-runs too)."
    return sorted(f.parent for f in _committed("records") if f.name == "config.json" and (f.parent / "points").is_dir())


@pytest.mark.parametrize("run", _sweep_records(), ids=lambda p: str(p.relative_to(ROOT / "records")))
def test_committed_record_resumes_from_another_folder(run, tmp_path):
    "A record copied elsewhere, with no data_dir, is accepted for resuming: out_dir and data_dir are never compared."
    import dataclasses, shutil
    from layerprune.sweep import ResultsStore, SweepConfig, check_settings
    saved = json.loads((run / "config.json").read_text())
    assert saved.get("out_dir") in (None, str(run.relative_to(ROOT))), saved.get("out_dir")  # relative, where it lives
    fields = {f.name for f in dataclasses.fields(SweepConfig)}
    cfg = SweepConfig(**{**{k: v for k, v in saved.items() if k in fields}, "out_dir": str(tmp_path / "copy"), "data_dir": None,
                         "device": "cpu", "progress": False})
    shutil.copytree(run / "points", tmp_path / "copy" / "points")
    store = ResultsStore(tmp_path / "copy")
    assert len(store.rows()) >= 1
    check_settings(store, cfg)
    with pytest.raises(ValueError, match="other settings"):
        check_settings(store, dataclasses.replace(cfg, seed=cfg.seed + 1))  # a result-defining field still counts


def test_ablation_figures_draw_from_the_committed_tables():
    "Figs. 7-9 read the committed CSVs by path (Fig. 7 once looked for its order column before reading the file)."
    from layerprune import plots
    rec = ROOT / "records" / "qwen2.5-coder-1.5b-ablations"
    for name, draw in [("fewshot", plots.fig7_fewshot_ablation), ("seeds", plots.fig8_seed_ablation),
                       ("lora_rank", plots.fig9_lora_rank_ablation)]:
        fig = draw(rec / f"{name}.csv")
        assert fig.axes and any(ax.lines for ax in fig.axes), name
        plots.plt.close(fig)
