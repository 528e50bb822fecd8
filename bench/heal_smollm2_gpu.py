#!/usr/bin/env python3
"""P4 healing: SmolLM2-135M with its 7 deepest layers before the last removed, healed with (Q)LoRA.

The paper's simple baseline (sec. 3.2) at 7 of 30 layers (23%), healed per App. A.1 with our zoo's
"gpu" profile (NF4 base, LoRA rank 8 on the MLP, AdamW, cosine schedule with warm-up, bf16 autocast;
500 steps x 16 x 2048) or "cpu" profile (LoRA on the full-precision base, 30 steps x 4 x 256, LR 1e-3);
any field can be overridden. C4 documents are split by `layerprune.data.split_documents`: the "heal" role
trains, the "loss" role scores, so the two never overlap. Records, as JSON: the C4 validation loss
(nats/token and divided by ln V) of the unpruned model, of the pruned model before healing and after
healing, tokens/s, peak GPU memory, wall time; `heal`'s own output folder (adapter, log.csv,
metadata.json) sits beside it.

Example (GPU; the model is a local float32 checkpoint directory, the data the 2k C4 sample):
    python bench/heal_smollm2_gpu.py --model /path/smollm2-135m --data /path/c4-validation.sample-2k.json.gz \
        --steps 300 --seq-len 1024 --out bench/out/heal_smollm2
CPU profile (the numbers of bench/RESULTS.md, P4):
    python bench/heal_smollm2_gpu.py --model smollm2-135m --data /path/c4.json.gz --profile cpu --device cpu --eval-blocks 32 --out /tmp/heal_cpu
CPU smoke test:
    python bench/heal_smollm2_gpu.py --model scratch/smollm2-135m --device cpu --steps 2 --seq-len 64 --batch 4 --eval-blocks 2
"""
from __future__ import annotations

import argparse, json, math, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="SmolLM2-135M checkpoint directory (or zoo key where fetchable)")
    p.add_argument("--device", default=None, help="cuda, cuda:1, cpu (default: cuda if available)")
    p.add_argument("--profile", choices=["tiny", "cpu", "gpu", "full"], default="gpu",
                   help="healing budget: layerprune.healing.heal_config('smollm2-135m', profile)")
    p.add_argument("--steps", type=int, default=None, help="default: the profile's")
    p.add_argument("--seq-len", type=int, default=None, help="default: the profile's")
    p.add_argument("--batch", type=int, default=None, help="global batch; default: the profile's")
    p.add_argument("--micro-batch", type=int, default=None, help="default: the profile's, capped at the global batch")
    p.add_argument("--lr", type=float, default=None, help="default: the profile's")
    p.add_argument("--rank", type=int, default=None, help="default: the profile's")
    p.add_argument("--warmup", type=int, default=None, help="default: the profile's")
    p.add_argument("--quantize", choices=["nf4", "none"], default=None, help="default: the profile's")
    p.add_argument("--prune-deepest", type=int, default=7, help="layers removed before the last one")
    p.add_argument("--eval-blocks", type=int, default=64, help="held-out blocks of --seq-len tokens for the loss")
    p.add_argument("--data", default=None, help="C4 documents (.json.gz / JSON lines / load_c4 path)")
    p.add_argument("--out", default="bench/out/heal_smollm2", help="output folder (result.json, adapter/, log.csv, ...)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch
    from healing import device_of, find_c4, read_docs  # bench/healing.py
    from layerprune.data import split_documents
    from layerprune.healing import heal, heal_config, mean_token_loss, pack_documents
    from layerprune.zoo import resolve_model
    from layerprune.models import load_model, load_tokenizer, num_layers
    from layerprune.surgery import prune_block

    device = device_of(args.device)
    c4 = find_c4(args.data)
    if c4 is None: raise SystemExit("No C4 file: pass --data PATH (e.g. c4-validation.sample-2k.json.gz).")
    src = resolve_model(args.model)
    tok = load_tokenizer(src)
    roles = split_documents(read_docs(c4))
    overrides = {k: v for k, v in dict(steps=args.steps, seq_len=args.seq_len, global_batch=args.batch,
                                       micro_batch=args.micro_batch, lr=args.lr, rank=args.rank,
                                       warmup_steps=args.warmup).items() if v is not None}
    if args.quantize: overrides["quantize"] = None if args.quantize == "none" else "nf4"
    profile = heal_config("smollm2-135m", args.profile)
    gb = overrides.get("global_batch", profile.global_batch)
    overrides.setdefault("micro_batch", min(profile.micro_batch, gb))
    if overrides.get("steps", profile.steps) < profile.warmup_steps: overrides.setdefault("warmup_steps", 1)
    cfg = heal_config("smollm2-135m", args.profile, **overrides)
    held_out = pack_documents(roles["loss"], tok, cfg.seq_len, max_blocks=args.eval_blocks)
    cdtype = torch.bfloat16 if device.startswith("cuda") else None

    t0 = time.perf_counter()
    model = load_model(src, device_map={"": device})
    L = num_layers(model)
    loss_unpruned = mean_token_loss(model, held_out, cfg.micro_batch, cdtype)
    n = args.prune_deepest
    model = prune_block(model, L - 1 - n, n, inplace=True, strategy="deepest").cpu()
    res = heal(model, roles["heal"], cfg, tokenizer=tok, eval_data=held_out, out_dir=args.out, device=device,
               train_source=dict(source=str(c4), role="heal", split_by="layerprune.data.split_documents(seed=0)"),
               eval_source=dict(source=str(c4), role="loss", split_by="layerprune.data.split_documents(seed=0)"))
    m = res.metadata
    ln_v = math.log(m["model"]["vocab_size"])
    result = dict(
        bench="P4 healing: SmolLM2-135M, deepest baseline", model=str(args.model), device=device,
        device_name=torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
        layers=L, removed=list(range(L - 1 - n, L - 1)), fraction_removed=n / L,
        c4_loss=dict(unpruned=loss_unpruned, pruned_before_healing=m["val_loss_before"], healed=m["val_loss_after"]),
        c4_loss_over_lnV=dict(unpruned=loss_unpruned / ln_v, pruned_before_healing=m["val_loss_before"] / ln_v,
                              healed=m["val_loss_after"] / ln_v),
        eval_blocks=len(held_out), tokens_seen=m["tokens_seen"], epochs=m["epochs"], tokens_per_s=m["tokens_per_s"],
        peak_memory_bytes=m["peak_memory_bytes"], peak_memory_kind=m["peak_memory_kind"],
        train_seconds=m["train_seconds"], total_seconds=time.perf_counter() - t0,
        config=m["config"], train_text=m["train_text"], eval_text=m["eval_text"], versions=m["versions"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("c4_loss", "c4_loss_over_lnV", "tokens_per_s", "peak_memory_bytes", "epochs")}, indent=1))


if __name__ == "__main__":
    main()
