#!/usr/bin/env python3
"""The performance report of issue 7: P1-P4 on one model, on the same GPU, in one run, plus the roofline.

Runs, one after the other in their own processes (so that each has the GPU to itself and its own peak memory):
  roofline  the machine's reachable peaks, measured here: an 8192^3 bf16 matmul (FLOP/s) and a 2 GiB
            device-to-device copy (bytes/s);
  P1  bench/similarity.py  one-pass all-(l, n) distances vs a plain forward vs one pass per n (PruneMe's way);
  P2  bench/sweep.py       the sweep's shared-prefix fast path vs the naive prune-and-score loop;
  P3  bench/eval.py        our MMLU 5-shot scorer (kv-prefix) vs lm-evaluation-harness on the same prompts;
  P4  bench/healing.py     our QLoRA healing loop vs HF Trainer + peft + bitsandbytes at identical settings.
Each step writes its own JSON into --out; a step that fails is recorded as failed and the next one runs
(nothing finished is lost). report.json gathers every row (what was measured, the ratio, the command, the
device) and the tokens/s of the forward pass (P1) and of healing (P4) against the measured matmul peak.

    python3 bench/gpu/perf_report.py --model $LAYERPRUNE_HOME/models/qwen2.5-coder-1.5b --data $LP_DATA \
        --out $LP_RUNS/perf --lmeval-python python3      # after eval "$(bash bench/gpu/lease.sh env)"
    python3 bench/gpu/perf_report.py --model scratch/smollm2-135m --data ../shared/data --device cpu --quick --out /tmp/perf
    python3 bench/gpu/perf_report.py --model .gpu/shapes/llama-2-7b --random-weights --only P1 --data $LP_DATA --out $LP_RUNS/p1_7b
"""
from __future__ import annotations
import argparse, json, os, platform, shlex, subprocess, sys, time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
C4 = "c4/c4-validation.sample-2k.json.gz"


def measure_peaks(device: str, # "cuda" or "cpu"
                  n: int = 8192, # matmul size (n x n x n)
                  copy_gib: float = 2.0, # size of the copied buffer
                  ) -> dict:
    "Reachable peaks on this device: bf16 matmul FLOP/s and device-to-device copy bytes/s (median of 5 runs)."
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    src = torch.empty(int(copy_gib * 2 ** 29), device=device, dtype=torch.float16)
    dst = torch.empty_like(src)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    def median_time(fn) -> float:
        fn(); sync(); ts = []
        for _ in range(5):
            t = time.perf_counter(); fn(); sync(); ts.append(time.perf_counter() - t)
        return sorted(ts)[2]
    t_mm, t_cp = median_time(lambda: a @ b), median_time(lambda: dst.copy_(src))
    return dict(matmul_n=n, matmul_dtype=str(dtype), matmul_flops=2 * n ** 3 / t_mm,
                copy_bytes=2 * src.numel() * src.element_size() / t_cp)  # a copy reads and writes every byte


def non_embedding_params(model_dir: str) -> tuple[int, int, int]:
    "(parameters outside the embedding and LM head, hidden size, layers) of a checkpoint, from a meta-device model."
    from transformers import AutoConfig, AutoModelForCausalLM
    cfg = AutoConfig.from_pretrained(model_dir)
    with torch.device("meta"): m = AutoModelForCausalLM.from_config(cfg)
    n = sum(p.numel() for name, p in m.named_parameters() if "embed_tokens" not in name and "lm_head" not in name)
    return n, cfg.hidden_size, cfg.num_hidden_layers


def steps(a) -> list[tuple[str, list[str], str]]:
    "(name, command, json path) of P1-P4 with the sizes of the GPU report (or tiny ones with --quick)."
    py, o, q = sys.executable, Path(a.out), a.quick
    dt = "float32" if a.device == "cpu" else "bfloat16"
    c4 = str(Path(a.data) / C4)
    p1 = [py, "bench/similarity.py", "--model", a.model, "--data", c4, "--device", a.device, "--dtype", dt,
          *(["--batch", "2", "--seq-len", "128", "--n-batches", "1", "--repeats", "1"] if q else
            ["--batch", "16", "--seq-len", "1024", "--n-batches", "2", "--repeats", "3", "--peer-repeats", "1"]),
          *(["--random-weights"] if a.random_weights else []), *(["--compile"] if a.compile else []),
          "--json-out", str(o / "p1.json")]
    p2 = [py, "bench/sweep.py", "--model", a.model, "--device", a.device, "--dtype", dt,
          *(["--subjects", "2", "--limit", "2", "--ns", "3,6"] if q else ["--subjects", "10", "--limit", "20"]),
          "--batch-tokens", "8192" if q else "65536", "--out", str(o / "p2.json")]
    p3 = [py, "bench/eval.py", "--model", a.model, "--data", a.data, "--device", a.device, "--dtype", dt,
          "--subjects", "abstract_algebra,anatomy" if q else "all", "--limit", "2" if q else str(a.p3_limit), "--boolq-limit", "-1",
          "--batch-tokens", "8192" if q else "65536", "--lmeval-python", a.lmeval_python, "--lmeval-batch-size", "16",
          "--skip-lmeval-default", "--skip-generic", "--out", str(o / "p3.json")]
    p4 = [py, "bench/healing.py", "--model", a.model, "--device", a.device, "--data", c4,
          *(["--steps", "2", "--seq-len", "64", "--batch", "2", "--micro-batch", "2", "--quantize", "none"] if q else
            ["--steps", "40", "--seq-len", "1024", "--batch", "16", "--micro-batch", "16", "--trainer-micro-batch", "8",
             "--rank", "16"]),  # each at its best micro batch within the Trainer's memory (issue 19, P4)
          "--prune-deepest", str(a.prune_deepest), "--out", str(o / "p4.json")]
    return [("P1", p1, "p1.json"), ("P2", p2, "p2.json"), ("P3", p3, "p3.json"), ("P4", p4, "p4.json")]


def rows(res: dict, cmds: dict, peaks: dict, n_params: int, L: int) -> list[dict]:
    "One row per comparison: what was measured, the ratio, the command; plus tokens/s against the matmul peak."
    out = []
    def add(step, what, ratio, **extra): out.append(dict(step=step, what=what, ratio=ratio, command=cmds[step], **extra))
    if p1 := res.get("P1"):
        m, toks = p1["median_s"], p1["n_batches"] * p1["batch"] * p1["seq_len"]
        add("P1", "one-pass distances / plain forward (trunk)", m["b_ours"] / m["a_trunk"])
        add("P1", "one pass per n (peers) / one-pass distances", m["c_peers"] / m["b_ours"])
        tps = toks / m["a_trunk"]
        add("P1", "forward pass (trunk) FLOP/s / measured matmul peak", tps * 2 * n_params / peaks["matmul_flops"],
            tokens_per_s=tps, flops_per_token=2 * n_params)
    if p2 := res.get("P2"):
        for r in p2["rows"]:
            add("P2", f"naive loop / fast sweep ({r['strategy']}, {r['variants']} variants, {r['items']} questions)",
                r["naive_over_fast"], fast_over_floor=r["fast_over_floor"], same_predictions=r["same_predictions"])
    if p3 := res.get("P3"):
        o, l = p3["ours_kv_prefix"], p3.get("lmeval_hendrycks_prompt") or {}
        if "speedup_of_ours" in l: add("P3", f"lm-eval / ours, wall time (MMLU 5-shot, {p3['n_mmlu']} questions)", l["speedup_of_ours"]["wall"], timers=p3.get("timers"),
                  ours_accuracy=o["accuracy"], lmeval_accuracy=l["accuracy"], agreement=l["agreement_with_ours"],
                  ours_s=o["wall_seconds"], lmeval_s=l["wall_seconds"],
                  disagreements_beyond_near_ties=l.get("disagreements_beyond_near_ties"))
        if "tokens_computed" in o:  # our whole timed run (tokenization included), as FLOP/s of the tokens it computes
            add("P3", "ours, MMLU scoring FLOP/s (2 per parameter per computed token, whole timed run) / measured matmul peak",
                o["tokens_computed"] * 2 * n_params / o["wall_seconds"] / peaks["matmul_flops"], tokens_computed=o["tokens_computed"])
    if p4 := res.get("P4"):
        o, t = p4["results"]["ours"], p4["results"].get("trainer")
        if t: add("P4", f"ours / HF Trainer, steady tokens/s (LoRA, base {p4['config']['quantize']})", p4["ours_over_trainer"]["tokens_per_s_steady"],
                  peak_memory_ratio=p4["ours_over_trainer"]["peak_memory"])
        # a LoRA step on a frozen base: forward (2 FLOP per parameter per token) + backward through the activations (2 more)
        n_pruned = n_params * (L - p4["prune_deepest"]) / L
        add("P4", "healing FLOP/s (4 per pruned-model parameter per token) / measured matmul peak",
            o["tokens_per_s_steady"] * 4 * n_pruned / peaks["matmul_flops"], tokens_per_s=o["tokens_per_s_steady"])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="checkpoint directory")
    p.add_argument("--data", required=True, help="data root (mmlu/, boolq/, c4/ as in ../shared/data)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", required=True, help="folder for p1-p4.json and report.json")
    p.add_argument("--lmeval-python", default="python3", help="a python that has lm_eval")
    p.add_argument("--prune-deepest", type=int, default=8, help="layers removed before healing (P4)")
    p.add_argument("--only", default="P1,P2,P3,P4", help="steps to run")
    p.add_argument("--p3-limit", type=int, default=20, help="P3: MMLU questions per subject (0: the whole test set)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test of the whole report on the CPU")
    p.add_argument("--compile", action="store_true", help="P1 with the decoder layers under torch.compile")
    p.add_argument("--random-weights", action="store_true",
                   help="P1 on random weights built from --model's config.json (a shape such as Llama-2-7B's: timing only)")
    a = p.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LAYERPRUNE_DATA": a.data, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))}
    peaks = measure_peaks(a.device, *((1024, 0.05) if a.quick else (8192, 2.0)))
    n_params, hidden, L = non_embedding_params(a.model)
    res, cmds, status = {}, {}, {}
    for name, cmd, js in steps(a):
        if name not in a.only.split(","): continue
        cmds[name] = shlex.join(["python3", *cmd[1:]])
        t = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT, env=env).returncode
        status[name] = dict(rc=rc, wall_seconds=round(time.perf_counter() - t, 1))
        print(f"== {name}: rc {rc}, {status[name]['wall_seconds']} s", flush=True)
        if rc == 0 and (out / js).exists(): res[name] = json.loads((out / js).read_text())
    device_name = torch.cuda.get_device_name() if a.device.startswith("cuda") else platform.processor() or platform.machine()
    report = dict(device=device_name, torch=torch.__version__, model=a.model, layers=L, hidden=hidden,
                  non_embedding_params=n_params, peaks=peaks, steps=status, rows=rows(res, cmds, peaks, n_params, L))
    (out / "report.json").write_text(json.dumps(report, indent=1))
    for r in report["rows"]: print(f"{r['step']} | {r['what']} | {r['ratio']:.3g}")


if __name__ == "__main__":
    main()
