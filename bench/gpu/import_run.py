#!/usr/bin/env python3
"""Bring a run folder back from the device (`runs.tgz` of `lease.sh wait`) into `records/<run>/`, with no device paths.

    python bench/gpu/import_run.py RUN_DIR records/RUN            # every point, distances, config, heal logs
    python bench/gpu/import_run.py RUN_DIR records/RUN --unhealed # only the *-raw points (bench/gpu/recompute.sh unhealed)
    python bench/gpu/import_run.py RUN_DIR records/RUN --healed   # only the healed points that came back, with their
                                                                  # heal logs (recompute.sh healed; a run cut short
                                                                  # keeps the record's other heals)

What it copies: `points/*.json` (all, the unhealed ones or the healed ones, replacing the record's), `config.json`,
`distances.npz` (all only), each heal's `work/<point>/{log.csv,metadata.json}` into `healing/<point>/` (`--logs work` keeps `work/`). Paths are written as the records keep
them (`files.portable_path`'s rule, decided here for another machine's folders): the run's folder becomes `records/<run>`,
`data_dir` null, a data file `c4/...` (relative to the data folder), a model `models/<key>` (relative to the layerprune
home). `results.csv` is rebuilt from the points (`sweep.ResultsStore`); then redraw the record, computing nothing:
`layerprune figures --family RUN`.
"""
from __future__ import annotations
import argparse, json
from pathlib import Path


def portable_value(v, run_dir: str, record: str):
    "A device path (at any depth of a JSON value) as the records write it; other values unchanged."
    if isinstance(v, dict): return {k: portable_value(x, run_dir, record) for k, x in v.items()}
    if isinstance(v, list): return [portable_value(x, run_dir, record) for x in v]
    if not isinstance(v, str) or not v.startswith("/"): return v
    if v.startswith(run_dir.rstrip("/") + "/") or v == run_dir.rstrip("/"): return record + v[len(run_dir.rstrip("/")):]
    parts = Path(v).parts
    for i, part in enumerate(parts):  # a model below the layerprune home, a data file below the data folder
        if part == "models" and i + 1 < len(parts): return "/".join(parts[i:i + 2])
        if part in ("c4", "mmlu", "boolq", "wiki"): return "/".join(parts[i:])
    return None  # another machine's folder means nothing here


def portable_point(row: dict, run_dir: str, record: str) -> dict:
    "A point's settings with its folder relative and no data folder."
    s = json.loads(row["settings"])
    s["out_dir"], s["data_dir"] = record, None
    return {**row, "settings": json.dumps(s)}


def copy_distances(src: Path, dst: Path) -> None:
    "distances.npz with its model named by folder name, as `sweep.run_distances` saves it (arrays unchanged)."
    import numpy as np
    with np.load(src, allow_pickle=False) as z: arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["metadata"]))
    meta["model"] = Path(meta["model"]).name
    arrays["metadata"] = np.array(json.dumps(meta))
    with open(dst, "wb") as f: np.savez(f, **arrays)


def device_folder(src: Path) -> str:
    "The run's folder on the device, read from its heal metadata (a config.json written portably names none there)."
    import re
    pat = re.compile(r'"(/[^"]*?/' + re.escape(src.name) + r')(?:/[^"]*)?"')
    for m in sorted(src.glob("work/*/metadata.json")):
        if hit := pat.search(m.read_text()): return hit.group(1)
    return f"/{src.name}-device-folder-unknown"  # matches no path: every absolute path is dropped


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="the run folder as it came back, e.g. runs/qwen2.5-coder-1.5b-full")
    p.add_argument("record", help="records/<run>")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--unhealed", action="store_true", help="replace only the unhealed points (keep the record's heals)")
    g.add_argument("--healed", action="store_true", help="replace only the healed points that came back (and their logs)")
    p.add_argument("--logs", default="healing", help="the record's folder of heal logs (the ablations' sub-runs keep the "
                   "sweep's own `work`)")
    a = p.parse_args(argv)
    src, rec = Path(a.run_dir), Path(a.record)
    (rec / "points").mkdir(parents=True, exist_ok=True)
    cfg = json.loads((src / "config.json").read_text())
    device_dir = cfg["out_dir"] or device_folder(src)
    cfg["out_dir"], cfg["data_dir"] = rec.as_posix(), None
    (rec / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
    kind = "-raw.json" if a.unhealed else "-healed.json" if a.healed else ".json"
    keep = lambda name: name.endswith(kind)  # noqa: E731
    new = [f for f in sorted((src / "points").glob("*.json")) if keep(f.name)]
    old = [f for f in (rec / "points").glob("*.json") if keep(f.name) and (not a.healed or (src / "points" / f.name).exists())]
    for f in old: f.unlink()
    for f in new:
        row = portable_point(json.loads(f.read_text()), device_dir, rec.as_posix())
        (rec / "points" / f.name).write_text(json.dumps(row, indent=1))
    if not a.unhealed:
        if not a.healed: copy_distances(src / "distances.npz", rec / "distances.npz")
        for w in sorted((src / "work").glob("*")):
            if a.healed and not (src / "points" / f"{w.name}.json").exists(): continue  # a heal cut short
            (rec / a.logs / w.name).mkdir(parents=True, exist_ok=True)
            for name in ("log.csv", "metadata.json"):
                if (w / name).exists():
                    text = (w / name).read_text()
                    if name.endswith(".json"): text = json.dumps(portable_value(json.loads(text), device_dir, rec.as_posix()), indent=1)
                    (rec / a.logs / w.name / name).write_text(text)
    from layerprune.sweep import ResultsStore
    (rec / "results.csv").write_text(ResultsStore(rec).table().to_csv(index=False))
    print(f"{rec}: {len(new)} points from {src} ({len(old)} replaced); redraw: layerprune figures --family {rec.name}")


if __name__ == "__main__":
    main()
