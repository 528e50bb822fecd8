"""Issue 18 run 5 (and the issue-19 table): the Llama-2-70B shape on ONE GPU at 0, 25 and 50% of its layers removed,
bf16 and NF4; then QLoRA micro steps at the paper's 70B settings (sequence 4096, LoRA rank 8 on the MLP, gradient
checkpointing) at 50% removed.

Each dtype builds the whole model once with `layerprune.models.random_model` straight on the GPU (NF4: each decoder
linear drawn in bf16 and quantised on the GPU one at a time, never the whole model in bf16), records the weights'
memory, then removes the deepest block (`prune_block(..., inplace=True)` at `deepest_block`) to 25% and to 50%
and records it again; at each point one forward pass of [1, seq_len] (time, peak memory). bf16 at 0% is ~129 GiB:
it is measured if it fits the GPU, else recorded as not fitting (and bf16 starts at 25%). The random Llama uses
the SmolLM2 tokenizer's vocabulary (49,152 instead of Llama's 32,000). Writes OUT/single_gpu_70b.json.

    python bench/gpu/single_gpu_70b.py --tokenizer TOK --out OUT                                # one H200
    python bench/gpu/single_gpu_70b.py --tokenizer TOK --out OUT --tiny --device cpu --seq-len 64   # CPU check
"""
from __future__ import annotations
import argparse, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C
import torch


def forward(model, seq_len: int, vocab: int, device) -> dict:
    "One [1, seq_len] forward pass without cache: seconds and peak memory (or the OOM)."
    ids = torch.randint(3, vocab, (1, seq_len), generator=torch.Generator().manual_seed(0)).to(device)
    C.reset_peaks()
    try:
        with torch.no_grad(): _, t = C.timed(lambda: model(input_ids=ids, use_cache=False, logits_to_keep=1))
    except torch.OutOfMemoryError as e:
        C.free(); return dict(error=f"CUDA out of memory: {str(e).splitlines()[0]}")
    return dict(seconds=t, tokens_per_s=round(seq_len / t, 1), memory=C.memory())


def sweep(cfg, quant: str, fracs, args) -> tuple[list[dict], object]:
    "Build once, then prune deeper: one record per fraction removed, and the last model."
    from layerprune.models import random_model
    from layerprune.similarity import deepest_block
    from layerprune.surgery import prune_block
    L, rows, removed = cfg.num_hidden_layers, [], 0
    C.free(); C.reset_peaks()
    model, t_build = None, None
    for frac in fracs:
        n = round(frac * L)
        if model is None:
            try:
                c = cfg if n == 0 else C.random_config(args.config, args.tok, args.tiny, num_hidden_layers=L - n)
                model, t_build = C.timed(lambda: random_model(c, args.device, torch.bfloat16, args.seed, load_in_4bit=quant == "nf4"))
                removed = n
            except torch.OutOfMemoryError as e:
                model, err = None, f"CUDA out of memory while building: {str(e).splitlines()[0]}"
            if model is None:  # (outside the except: its traceback no longer holds the half-built model)
                C.free(); rows.append(dict(dtype=quant, frac=frac, removed=n, layers=L - n, fits=False, error=err)); continue
            build = dict(build_s=t_build, built_with_layers=L - n)
        else:
            k = n - removed
            if k > 0:
                Lnow = cfg.num_hidden_layers - removed
                _, t_prune = C.timed(lambda: prune_block(model, deepest_block(Lnow, k), k, inplace=True))
                C.free(); removed = n
            build = dict(pruned_from_previous=True)
        weights = C.memory()
        row = dict(dtype=quant, frac=frac, removed=n, layers=L - n, fits=True, **build,
                   weights_gib=weights.get(str(args.device), weights.get("cuda:0", {})).get("allocated_gib") if weights else None,
                   weights_bytes_by_tensors=sum(p.numel() * p.element_size() for p in model.parameters()),
                   forward=forward(model, args.seq_len, cfg.vocab_size, args.device))
        rows.append(row); print(row, file=sys.stderr, flush=True)
    return rows, model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokenizer", required=True, help="folder with the SmolLM2 tokenizer files")
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default="llama-2-70b")
    ap.add_argument("--tiny", action="store_true", help="the same code paths at a tiny shape (CPU check)")
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--fracs", default="0,0.25,0.5")
    ap.add_argument("--dtypes", default="bfloat16,nf4")
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--rank", type=int, default=8, help="LoRA rank (the paper's for Llama-2-70B)")
    ap.add_argument("--micro-batch", type=int, default=1)
    ap.add_argument("--micro-steps", type=int, default=4, help="timed micro steps (the first is the warm-up)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from layerprune.models import load_tokenizer
    args.device = torch.device(args.device)
    if args.device.type == "cuda" and not torch.cuda.is_available(): sys.exit("No CUDA device: pass --tiny --device cpu for the CPU check.")
    if args.device.type == "cuda": torch.cuda.set_device(args.device)
    args.tok = load_tokenizer(args.tokenizer)
    cfg = C.random_config(args.config, args.tok, args.tiny)
    fracs = [float(f) for f in args.fracs.split(",")]
    summary = dict(run="issue 18 run 5: the 70B shape on one GPU", config=args.config, tiny=args.tiny, num_layers=cfg.num_hidden_layers,
                   vocab_size=cfg.vocab_size, vocab_note="SmolLM2 tokenizer (49,152), not Llama's 32,000",
                   device=str(args.device), gpu_total_gib=round(torch.cuda.get_device_properties(args.device).total_memory / C.GiB, 2)
                   if args.device.type == "cuda" else None, seq_len=args.seq_len, points=[])
    model = None
    for quant in args.dtypes.split(","):
        del model; C.free()
        rows, model = sweep(cfg, quant, fracs, args)
        summary["points"] += rows
    if model is not None and args.dtypes.split(",")[-1] == "nf4":
        try:
            summary["qlora"] = dict(at_frac=fracs[-1], **C.qlora_microsteps(model, args.rank, args.seq_len, args.micro_batch,
                                                                            args.micro_steps))
        except torch.OutOfMemoryError as e:
            summary["qlora"] = dict(error=f"CUDA out of memory: {str(e).splitlines()[0]}")
    C.finish(summary, args.out, "single_gpu_70b")


if __name__ == "__main__":
    main()
