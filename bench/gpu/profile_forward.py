#!/usr/bin/env python3
"""Where the forward pass of a paper-shaped model spends its time (issue 19, the forward roofline).

A random-weight model of a public config (Llama-2-7B by default; the SmolLM2 vocabulary), bf16, one batch of
BATCH x SEQ random tokens, timed three ways (median of REPEATS, after a warm-up):
  mask      model.model(input_ids, attention_mask=all ones)   as bench/similarity.py's plain forward calls it
  no_mask   model.model(input_ids)                            no padding, so no mask: SDPA may take its causal kernel
  compiled  torch.compile(model.model)(input_ids)             the same, with inductor's fused elementwise kernels
Each as tokens/s and as a share of the measured bf16 matmul peak, counting (a) the weight matmuls only (2 FLOP per
non-embedding parameter per token, the P1 roofline's definition) and (b) those plus causal attention's score and value
matmuls (2 * 2 * T * d per layer per token, halved for the causal mask: PaLM's model FLOPs). Then a torch.profiler table
of the `mask` forward: the CUDA kernels with the most time (`common.kernel_table`).

    python3 bench/gpu/profile_forward.py --tokenizer $LP_TOK --out $LP_RUNS/profile_fwd     # H200, ~2 min
    python3 bench/gpu/profile_forward.py --tokenizer ../shared/.. --tiny --out /tmp/pf       # CPU check
"""
from __future__ import annotations
import argparse, statistics, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C  # noqa: E402
import torch  # noqa: E402
from perf_report import measure_peaks  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="llama-2-7b", help="a key of layerprune.models.PAPER_CONFIGS")
    p.add_argument("--tokenizer", required=True, help="a folder with tokenizer files (its vocabulary sizes the model)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--tiny", action="store_true", help="the CPU check: a tiny shape of the same family")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    from transformers import AutoTokenizer
    from layerprune.models import random_model
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if dev == "cuda" else torch.float32
    tok = AutoTokenizer.from_pretrained(a.tokenizer)
    cfg = C.random_config(a.model, tok, tiny=a.tiny)
    model = random_model(cfg, dev, dtype, seed=0)
    trunk = model.model
    n_params = sum(p.numel() for n, p in trunk.named_parameters() if "embed_tokens" not in n)
    L, d = cfg.num_hidden_layers, cfg.hidden_size
    ids = torch.randint(3, cfg.vocab_size, (a.batch, a.seq_len), generator=torch.Generator().manual_seed(0)).to(dev)
    ones = torch.ones_like(ids)
    flops = {"weights": 2 * n_params, "weights_and_attention": 2 * n_params + L * 2 * a.seq_len * d}
    peaks = measure_peaks(dev, n=8192 if dev == "cuda" else 512, copy_gib=0.01)["matmul_flops"]
    variants = {"mask": lambda: trunk(input_ids=ids, attention_mask=ones, use_cache=False),
                "no_mask": lambda: trunk(input_ids=ids, use_cache=False)}
    if not a.no_compile:
        compiled = torch.compile(trunk)
        variants["compiled"] = lambda: compiled(input_ids=ids, use_cache=False)
    rows, ref = {}, None
    with torch.inference_mode():
        for name, f in variants.items():
            out, t_first = C.timed(f)
            h = out.last_hidden_state
            ref = h if ref is None else ref
            ts = [C.timed(f)[1] for _ in range(a.repeats)]
            tps = a.batch * a.seq_len / statistics.median(ts)
            rows[name] = dict(first_s=t_first, median_s=statistics.median(ts), all_s=ts, tokens_per_s=tps,
                              max_abs_diff_vs_mask=C.max_abs(h, ref),
                              **{f"of_peak_{k}": tps * v / peaks for k, v in flops.items()})
            print(name, rows[name], flush=True)
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev == "cuda" else [])) as prof:
            variants["mask"](); C.sync()
        table = C.kernel_table(prof, dev)
    C.finish(dict(bench="forward profile (issue 19)", model=a.model, tiny=a.tiny, batch=a.batch, seq_len=a.seq_len,
                  dtype=str(dtype), non_embedding_params=n_params, flops_per_token=flops, matmul_peak_flops=peaks,
                  variants=rows, top_kernels=table, memory=C.memory()), a.out, "profile_forward")


if __name__ == "__main__":
    main()
