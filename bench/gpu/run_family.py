"""Issue 7, on the GPU machine: install a zoo model from a hand-carried GGUF, then run (or resume) its sweep.

The device machine has no network: the GGUF arrives in 60 MB chunks (see bench/gpu/README.md), the data as a
tarball. Everything the sweep finishes is written atomically under --out, so a call cut off by its time limit
loses nothing; the next call resumes.

    python3 bench/gpu/run_family.py --key qwen2.5-coder-1.5b --gguf $LP_BASE/q15.gguf --data-dir $LP_DATA \\
        --out $LP_RUNS/qwen2.5-coder-1.5b --overrides '{"heal_ns": [0.25, 0.5]}'   # after eval "$(bash bench/gpu/lease.sh env)"
"""
import argparse, json, time
from pathlib import Path

from layerprune import zoo
from layerprune.sweep import SweepConfig, run_sweep

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--key", required=True, help="zoo key")
p.add_argument("--gguf", help="the assembled GGUF (verified against the zoo's sha256 before conversion)")
p.add_argument("--data-dir", required=True, help="folder with mmlu/ boolq/ c4/")
p.add_argument("--out", required=True, help="run folder (results.csv, points/, distances.npz)")
p.add_argument("--profile", default="gpu")
p.add_argument("--overrides", default="{}", help="SweepConfig fields as JSON")
a = p.parse_args()

t0 = time.time()
if a.gguf: print("model:", zoo.fetch(a.key, gguf=a.gguf), f"({time.time() - t0:.0f} s)", flush=True)
over = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(a.overrides).items()}
cfg = SweepConfig(a.key, family=a.key, profile=a.profile, out_dir=a.out, data_dir=a.data_dir, progress=False, **over)
df = run_sweep(cfg)
print(df[["strategy", "n", "start", "healed", "mmlu_micro", "boolq", "c4_loss", "seconds"]].round(3).to_string(index=False))
print(f"total {time.time() - t0:.0f} s")
