#!/usr/bin/env python3
"""Where a QLoRA healing step spends its time (issue 19, the healing roofline), on a random-weight model of a zoo
model's shape (P4's: Qwen2.5-Coder-1.5B with its 8 deepest layers removed, NF4, LoRA rank 16 on the MLP, micro batch
16 x 1,024 tokens, bf16 compute), through `layerprune.healing.heal` itself.

STEPS optimizer steps of random tokens; each step's end time is kept (what the first steps cost beyond the steady
ones), and a torch.profiler table covers the last two steps: the CUDA kernels with the most time, and the share of
matmul kernels among them.

    python3 bench/gpu/profile_healing.py --shape .gpu/shapes/qwen2.5-coder-1.5b --out $LP_RUNS/profile_heal   # H200, ~1 min
    python3 bench/gpu/profile_healing.py --shape .gpu/shapes/qwen2.5-coder-1.5b --tiny --out /tmp/ph         # CPU check
    ... --compile: the same with the decoder layers compiled (HealConfig.compile)
"""
from __future__ import annotations
import argparse, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C  # noqa: E402
import torch  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--shape", required=True, help="a folder with a config.json (e.g. .gpu/shapes/qwen2.5-coder-1.5b)")
    p.add_argument("--drop", type=int, default=8, help="decoder layers removed (P4: the 8 deepest)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--micro-batch", type=int, default=16)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--compile", action="store_true", help="the decoder layers compiled while healing (HealConfig.compile)")
    p.add_argument("--tiny", action="store_true", help="the CPU check: a tiny shape, full precision, 3 steps")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    from transformers import AutoConfig
    from layerprune.healing import HealConfig, heal
    from layerprune.models import random_model
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = AutoConfig.from_pretrained(a.shape)
    cfg.num_hidden_layers -= a.drop
    if a.tiny: cfg.update(dict(C.TINY_SHAPE, num_key_value_heads=2, num_hidden_layers=4, vocab_size=512,
                                      pad_token_id=0, bos_token_id=1, eos_token_id=2)); a.steps = 3
    cfg.layer_types = cfg.layer_types[:cfg.num_hidden_layers] if getattr(cfg, "layer_types", None) else None
    nf4 = dev == "cuda"
    model = random_model(cfg, dev, torch.bfloat16 if nf4 else torch.float32, seed=0, load_in_4bit=nf4)
    seq, micro = (32, 2) if a.tiny else (a.seq_len, a.micro_batch)
    hc = HealConfig(steps=a.steps, seq_len=seq, global_batch=micro, micro_batch=micro, rank=a.rank, warmup_steps=1,
                    quantize="nf4" if nf4 else None, compile=a.compile, deterministic=False)
    blocks = torch.randint(3, cfg.vocab_size, (hc.global_batch * a.steps, hc.seq_len), generator=torch.Generator().manual_seed(0))
    from torch.profiler import ProfilerActivity, profile, schedule
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev == "cuda" else [])
    ends, t0 = [], time.perf_counter()
    with profile(activities=acts, schedule=schedule(wait=a.steps - 2, warmup=0, active=2)) as prof:
        def step_done(step, row):
            C.sync(); ends.append(time.perf_counter()); prof.step()
        heal(model, blocks, hc, device=dev, progress=False, callback=step_done)
    step_s = [round(e - s, 4) for s, e in zip([t0] + ends[:-1], ends)]
    tokens = hc.global_batch * hc.seq_len
    C.finish(dict(bench="healing step profile (issue 19)", shape=str(a.shape), layers=cfg.num_hidden_layers, tiny=a.tiny,
                  micro_batch=hc.micro_batch, seq_len=hc.seq_len, rank=a.rank, nf4=nf4, compile=a.compile, step_seconds=step_s,
                  steady_tokens_per_s=tokens / (sum(step_s[2:]) / len(step_s[2:])) if len(step_s) > 2 else None,
                  top_kernels=C.kernel_table(prof, dev, top=20), memory=C.memory()), a.out, "profile_healing")


if __name__ == "__main__":
    main()
