#!/usr/bin/env python3
"""P4 healing benchmark: our healing loop vs HF Trainer + peft + bitsandbytes, at identical settings.

Both sides start from the same base model, loaded the same way (`layerprune.healing.load_for_healing`:
NF4 base, fp32 unquantized weights), the same token blocks, the same AdamW / cosine-with-warm-up /
clipping settings, global batch, seed, and bf16 autocast on GPU.
  ours     `heal(model, blocks, cfg)`, exactly as a user calls it: what heal does inside (LoRA on the MLP,
           the chunked cross-entropy that never holds the [micro, T, V] logits, bf16 copies of the frozen
           unquantized weights, fused AdamW) is what is timed, from the loaded base to the last step.
  trainer  the standard QLoRA recipe: `add_lora` (peft's prepare_model_for_kbit_training + get_peft_model)
           and transformers.Trainer with bf16=True, optim="adamw_torch", at --trainer-micro-batch
           (default: the same micro batch as ours), timed from add_lora to the end of train().
Each implementation runs in its own subprocess, so peak memory (torch.cuda.max_memory_allocated on GPU,
ru_maxrss on CPU) is its own.

Reported per implementation: tokens/s over the whole run and over the steady part (steps after
the first 20%), peak memory, mean loss over the last 20% of steps (a sanity check: the data order
differs, Trainer uses its own sampler), wall seconds of the training call.

Examples
    # GPU (the lead's run): SmolLM2-135M pruned by 7 layers, 1024-token sequences, global batch 16
    python bench/healing.py --model /path/smollm2-135m --prune-deepest 7 --steps 60 --seq-len 1024 --batch 16 --micro-batch 16
    # CPU smoke test (no typo survives this)
    python bench/healing.py --model /path/smollm2-135m --device cpu --steps 2 --seq-len 64 --batch 4 --micro-batch 2
    # P4 on an H200: ours at micro batch 16 (its memory, without the logits, stays under the Trainer's at 8)
    python bench/healing.py --model $LAYERPRUNE_HOME/models/qwen2.5-coder-1.5b --prune-deepest 8 --data $LP_DATA/c4/c4-validation.sample-2k.json.gz \
        --steps 40 --seq-len 1024 --batch 16 --micro-batch 16 --trainer-micro-batch 8 --rank 16
    # throughput without real weights: a random model of the checkpoint's config (needs config.json + tokenizer only)
    python bench/healing.py --model /path/smollm2-135m --random-weights ...

Needs torch, transformers, peft, accelerate, bitsandbytes (for --quantize nf4) and this repository on
sys.path (added below). Text: --data (C4 JSON lines, .json.gz, or anything layerprune.data.load_c4
reads); without it, $LAYERPRUNE_DATA/c4/c4-validation.sample-2k.json.gz or ../shared/data beside the
checkout; without any, random tokens (reported as such).
"""
from __future__ import annotations

import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="checkpoint directory (or zoo key / hub id where reachable)")
    p.add_argument("--device", default=None, help="cuda, cuda:1, cpu (default: cuda if available)")
    p.add_argument("--steps", type=int, default=60, help="optimizer steps")
    p.add_argument("--seq-len", type=int, default=1024, help="tokens per sequence")
    p.add_argument("--batch", type=int, default=16, help="global batch (sequences per optimizer step)")
    p.add_argument("--micro-batch", type=int, default=None, help="sequences per forward (default: --batch)")
    p.add_argument("--trainer-micro-batch", type=int, default=None,
                   help="the Trainer's per_device_train_batch_size (default: --micro-batch); accumulation makes up --batch")
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps (default: 5%% of --steps)")
    p.add_argument("--quantize", choices=["nf4", "none"], default="nf4")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--compile", action="store_true", help="ours with its decoder layers compiled (HealConfig.compile); "
                   "the Trainer keeps its standard recipe (its torch_compile off, its default)")
    p.add_argument("--prune-deepest", type=int, default=0, help="remove the n deepest layers before the last (paper's baseline)")
    p.add_argument("--random-weights", action="store_true", help="random weights from the checkpoint's config")
    p.add_argument("--data", default=None, help="C4 documents: .json.gz / JSON lines / load_c4 path")
    p.add_argument("--impl", choices=["both", "ours", "trainer"], default="both")
    p.add_argument("--base-dir", default=None, help=argparse.SUPPRESS)  # prepared base, passed to the subprocesses
    p.add_argument("--blocks", default=None, help=argparse.SUPPRESS)    # prepared token blocks (.pt)
    p.add_argument("--out", default=None, help="write the JSON result here (default: print only)")
    return p.parse_args(argv)


def device_of(arg):
    import torch
    return arg or ("cuda" if torch.cuda.is_available() else "cpu")


def find_c4(arg):
    if arg: return Path(arg)
    for base in (os.environ.get("LAYERPRUNE_DATA"), ROOT.parent / "shared" / "data", ROOT / "shared" / "data"):
        if base and (Path(base) / "c4" / "c4-validation.sample-2k.json.gz").exists():
            return Path(base) / "c4" / "c4-validation.sample-2k.json.gz"
    return None


def read_docs(path: Path) -> list[str]:
    from layerprune import data
    return list(data.load_c4("validation", path=path))


def prepare_base(args, tmp: Path) -> Path:
    "A float32 checkpoint directory of the (optionally random, optionally pruned) model, with its tokenizer."
    import torch
    from transformers import AutoModelForCausalLM
    from layerprune.zoo import resolve_model
    from layerprune.models import load_config, load_model, load_tokenizer, num_layers
    src = resolve_model(args.model)
    if args.random_weights:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(load_config(src), dtype=torch.float32)
    else:
        model = load_model(src)
    if args.prune_deepest:
        from layerprune.surgery import prune_block
        L, n = num_layers(model), args.prune_deepest
        model = prune_block(model, L - 1 - n, n, inplace=True, strategy="deepest")
    out = tmp / "base"
    model.save_pretrained(out)
    load_tokenizer(src).save_pretrained(out)
    return out


def prepare_blocks(args, base: Path, tmp: Path) -> tuple[Path, dict]:
    import torch
    from layerprune.healing import pack_documents
    from layerprune.models import load_tokenizer
    need = args.steps * args.batch
    c4 = find_c4(args.data)
    if c4 is not None:
        from layerprune.data import split_documents
        docs = split_documents(read_docs(c4))["heal"]
        blocks = pack_documents(docs, load_tokenizer(base), args.seq_len, max_blocks=need)
        text = dict(source=str(c4), role="heal", n_blocks=len(blocks))
    else:
        from layerprune.models import load_config
        vocab = load_config(base).vocab_size
        blocks = torch.randint(3, vocab, (min(need, 512), args.seq_len), generator=torch.Generator().manual_seed(0))
        text = dict(source="random tokens (no C4 file found)", n_blocks=len(blocks))
    path = tmp / "blocks.pt"
    torch.save(blocks, path)
    return path, text


def heal_config_of(args):
    from layerprune.healing import HealConfig
    return HealConfig(steps=args.steps, seq_len=args.seq_len, global_batch=args.batch,
                      micro_batch=args.micro_batch or args.batch, lr=args.lr,
                      warmup_steps=args.warmup if args.warmup is not None else max(1, args.steps // 20),
                      rank=args.rank, quantize=None if args.quantize == "none" else "nf4",
                      gradient_checkpointing=args.gradient_checkpointing, compile=args.compile, deterministic=False)


def peak_memory(device):
    import resource, torch
    if device.startswith("cuda"): return int(torch.cuda.max_memory_allocated()), "torch.cuda.max_memory_allocated"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "ru_maxrss"


def summarize(step_ends: list[float], start: float, losses: list[float], tokens_per_step: int) -> dict:
    "tokens/s overall and over the steps after the first 20%, and the mean loss of the last 20% of steps."
    n = len(step_ends)
    skip = max(1, n // 5) if n > 1 else 0
    steady = (n - skip) * tokens_per_step / (step_ends[-1] - step_ends[skip - 1]) if skip else None
    tail = losses[-max(1, n // 5):]
    return dict(steps=n, tokens_per_s=n * tokens_per_step / (step_ends[-1] - start), tokens_per_s_steady=steady,
                loss_last20pct=sum(tail) / len(tail), loss_first=losses[0], loss_last=losses[-1])


def run_ours(args, device, cfg, blocks):
    import torch
    from layerprune.healing import heal, load_for_healing
    model = load_for_healing(args.base_dir, cfg, device)
    if device.startswith("cuda"): torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    ends = []
    t0 = time.perf_counter()
    res = heal(model, blocks, cfg, device=device, progress=True,
               callback=lambda step, row: ends.append(time.perf_counter()))
    wall = time.perf_counter() - t0
    out = summarize(ends, t0, [r["loss"] for r in res.log], cfg.global_batch * cfg.seq_len)
    out.update(wall_seconds=wall, loop_tokens_per_s=res.metadata["tokens_per_s"], micro_batch=res.metadata["micro_batch_used"])
    return out


def run_trainer(args, device, cfg, blocks):
    import torch
    from transformers import Trainer, TrainerCallback, TrainingArguments
    from dataclasses import replace
    from layerprune.healing import add_lora, load_for_healing
    if args.trainer_micro_batch: cfg = replace(cfg, micro_batch=args.trainer_micro_batch)
    base = load_for_healing(args.base_dir, cfg, device)
    if device.startswith("cuda"): torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()  # like ours: from the loaded base (LoRA attached inside the timed part)
    model = add_lora(base, cfg)

    class Blocks(torch.utils.data.Dataset):
        def __len__(self): return len(blocks)
        def __getitem__(self, i): return {"input_ids": blocks[i], "labels": blocks[i]}

    ends = []
    class StepTimes(TrainerCallback):
        def on_step_end(self, *a, **k):
            if device.startswith("cuda"): torch.cuda.synchronize()
            ends.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArguments(
            output_dir=tmp, max_steps=cfg.steps, per_device_train_batch_size=cfg.micro_batch,
            gradient_accumulation_steps=cfg.accumulation, learning_rate=cfg.lr, lr_scheduler_type="cosine",
            warmup_steps=cfg.warmup_steps, weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm,
            optim="adamw_torch", bf16=device.startswith("cuda"), logging_steps=1, save_strategy="no", report_to="none",
            seed=cfg.seed, use_cpu=device == "cpu", dataloader_num_workers=0, remove_unused_columns=False,
            disable_tqdm=False)
        trainer = Trainer(model=model, args=targs, train_dataset=Blocks(), callbacks=[StepTimes()])
        result = trainer.train()
        wall = time.perf_counter() - t0
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    out = summarize(ends, t0, losses, cfg.global_batch * cfg.seq_len)
    out.update(wall_seconds=wall, train_runtime=result.metrics.get("train_runtime"), micro_batch=cfg.micro_batch)
    return out


def child(args):
    "One implementation, in this process; prints one JSON line."
    import torch
    device = device_of(args.device)
    cfg = heal_config_of(args)
    blocks = torch.load(args.blocks)
    res = (run_ours if args.impl == "ours" else run_trainer)(args, device, cfg, blocks)
    res["peak_memory_bytes"], res["peak_memory_kind"] = peak_memory(device)
    print("RESULT " + json.dumps(res), flush=True)


def main(argv=None):
    args = parse_args(argv)
    if args.base_dir:  # a subprocess for one implementation
        return child(args)
    import platform, torch, transformers, peft
    from dataclasses import asdict
    device = device_of(args.device)
    cfg = heal_config_of(args)
    impls = ["ours", "trainer"] if args.impl == "both" else [args.impl]
    with tempfile.TemporaryDirectory(prefix="bench-healing-") as tmp:
        tmp = Path(tmp)
        base = prepare_base(args, tmp)
        blocks, text = prepare_blocks(args, base, tmp)
        results = {}
        for impl in impls:
            cmd = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]),
                   "--impl", impl, "--base-dir", str(base), "--blocks", str(blocks)]
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            sys.stdout.write("".join(l for l in proc.stdout.splitlines(True) if not l.startswith("RESULT ")))
            if proc.returncode: raise SystemExit(f"{impl} failed with exit code {proc.returncode}")
            results[impl] = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))[7:])
    try:
        import bitsandbytes; bnb = bitsandbytes.__version__
    except ImportError: bnb = None
    report = dict(
        bench="P4 healing: ours vs HF Trainer", command=" ".join(["bench/healing.py", *(sys.argv[1:] if argv is None else argv)]),
        model=args.model, random_weights=args.random_weights,
        prune_deepest=args.prune_deepest, device=device,
        device_name=torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or platform.machine(),
        config=asdict(cfg), text=text, results=results,
        versions=dict(torch=torch.__version__, transformers=transformers.__version__, peft=peft.__version__, bitsandbytes=bnb))
    if "ours" in results and "trainer" in results:
        o, t = results["ours"], results["trainer"]
        report["ours_over_trainer"] = dict(
            tokens_per_s=o["tokens_per_s"] / t["tokens_per_s"],
            tokens_per_s_steady=(o["tokens_per_s_steady"] / t["tokens_per_s_steady"]) if o["tokens_per_s_steady"] and t["tokens_per_s_steady"] else None,
            peak_memory=o["peak_memory_bytes"] / t["peak_memory_bytes"])
    text_out = json.dumps(report, indent=1)
    print(text_out)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text_out)


if __name__ == "__main__":
    main()
