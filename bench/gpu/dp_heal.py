"""Issue 18, run 3: NCCL data-parallel healing against one process at the same global batch, and the seed noise.

`run` heals the model with its deepest `--remove` layers removed (`prune_block` at `deepest_block`) on C4 `heal`-role
blocks with `layerprune.healing.heal(..., accelerator=Accelerator())`: the family's healing settings
(`heal_config(FAMILY, "gpu")`: NF4, LoRA rank 16 on the MLP for Qwen2.5-Coder-1.5B) with `--steps`, sequence
`--seq-len`, global batch 16 and micro batch `--micro-batch` in every run, so 2 processes do one micro step each
where 1 process accumulates two. Launch it with 2 processes (seed 0) and with 1 process (seeds 0 and 1): the
seed changes the LoRA init, the dropout masks and the data order, so 1 process seed 0 vs seed 1 is the noise the
2-process trajectory is judged against. `compare` writes the per-step loss differences and the tokens/s speed-up
to OUT/dp_heal_compare.json.

    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no \\
        bench/gpu/dp_heal.py --model DIR --data-dir DATA --out OUT --seed 0
    accelerate launch --num_processes 1 ... bench/gpu/dp_heal.py --model DIR --data-dir DATA --out OUT --seed 0   # and --seed 1
    python bench/gpu/dp_heal.py compare --out OUT
CPU check: torchrun --standalone --nproc_per_node 2 (gloo), a tiny checkpoint, `--family smollm2-135m --remove 2
--steps 3 --seq-len 64 --micro-batch 4`.
"""
from __future__ import annotations
import argparse, json, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C
import torch


def run(args):
    from accelerate import Accelerator
    from layerprune.healing import heal, heal_config, pack_documents
    from layerprune.models import load_config, load_model, load_tokenizer
    from layerprune.similarity import deepest_block
    from layerprune.surgery import prune_block
    acc = Accelerator(cpu=not torch.cuda.is_available())
    P, seed = acc.num_processes, args.seed
    tok = load_tokenizer(args.model)
    L = load_config(args.model).num_hidden_layers
    start = deepest_block(L, args.remove)
    # the pruned checkpoint, written once by the main process: every process loads it in NF4 itself
    # (heal() of an in-memory model under DDP saves it per process, and rank 1's copy came out unreadable)
    src = Path(args.out) / f"pruned_{start}_{args.remove}"
    if acc.is_main_process and not (src / "config.json").exists():
        model = load_model(args.model, dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32)
        prune_block(model, start, args.remove, inplace=True).save_pretrained(src); tok.save_pretrained(src)
        del model
    acc.wait_for_everyone()
    over = dict(steps=args.steps, seq_len=args.seq_len, global_batch=args.global_batch, micro_batch=args.micro_batch,
                warmup_steps=max(1, args.steps // 10), seed=seed, deterministic=False)
    if args.quantize == "none": over["quantize"] = None
    cfg = heal_config(args.family, "gpu", **over)
    blocks = pack_documents(C.c4_role(args.data_dir, "heal"), tok, cfg.seq_len, max_blocks=cfg.steps * cfg.global_batch)
    tag = f"{P}proc_seed{seed}"
    res = heal(src, blocks, cfg, out_dir=Path(args.out) / f"heal_{tag}", progress=False, accelerator=acc,
               attn_implementation=args.attn)
    m = res.metadata
    if acc.is_main_process:
        C.finish(dict(run="issue 18 run 3: NCCL data-parallel healing", processes=P, seed=seed, model=Path(args.model).name,
                      family=args.family, layers=L, removed=[start, args.remove], config=m["config"], blocks=len(blocks),
                      losses=[r["loss"] for r in res.log], grad_norms=[r["grad_norm"] for r in res.log],
                      step_seconds=[r["seconds"] for r in res.log], train_seconds=m["train_seconds"],
                      tokens_per_s=m["tokens_per_s"],
                      tokens_per_s_after_first_step=_steady(res.log, cfg.global_batch * cfg.seq_len),
                      peak_memory_gib_main_process=round(m["peak_memory_bytes"] / C.GiB, 3), peak_memory_kind=m["peak_memory_kind"],
                      micro_batch_used=m["micro_batch_used"], trainable_params=m["model"]["trainable_params"]),
                 args.out, f"dp_heal_{tag}")
    acc.wait_for_everyone()


def _steady(log, tokens_per_step) -> float | None:
    "Tokens/s without the first step (CUDA warm-up)."
    if len(log) < 2: return None
    return round(tokens_per_step * (len(log) - 1) / (log[-1]["seconds"] - log[0]["seconds"]), 1)


def compare(args):
    out = Path(args.out)
    load = lambda tag: json.loads((out / f"dp_heal_{tag}.json").read_text())
    dp, one, other = load(f"{args.processes}proc_seed0"), load("1proc_seed0"), load("1proc_seed1")
    diff = lambda a, b: [abs(x - y) for x, y in zip(a["losses"], b["losses"])]
    d_dp, d_seed = diff(dp, one), diff(one, other)
    stats = lambda d: dict(max=max(d), mean=sum(d) / len(d), last=d[-1])
    res = dict(run="issue 18 run 3: compare", processes=args.processes, steps=len(d_dp),
               dp_vs_one_process=stats(d_dp), seed0_vs_seed1=stats(d_seed),
               per_step=dict(dp_vs_one=d_dp, seed0_vs_seed1=d_seed),
               within_seed_noise=max(d_dp) <= max(d_seed) and sum(d_dp) <= sum(d_seed),
               tokens_per_s=dict(one=one["tokens_per_s"], dp=dp["tokens_per_s"], one_seed1=other["tokens_per_s"]),
               speedup=round(dp["tokens_per_s"] / one["tokens_per_s"], 3),
               speedup_after_first_step=(round(dp["tokens_per_s_after_first_step"] / one["tokens_per_s_after_first_step"], 3)
                                         if dp["tokens_per_s_after_first_step"] and one["tokens_per_s_after_first_step"] else None),
               peak_memory_gib=dict(one=one["peak_memory_gib_main_process"], dp_per_process=dp["peak_memory_gib_main_process"]),
               noise_note="seed 1 changes the LoRA init, the dropout masks and the data order")
    C.finish(res, out, "dp_heal_compare")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    mode = argv.pop(0) if argv and argv[0] in ("run", "compare") else "run"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    if mode == "run":
        ap.add_argument("--model", required=True, help="checkpoint directory (e.g. $LAYERPRUNE_HOME/models/qwen2.5-coder-1.5b)")
        ap.add_argument("--data-dir", required=True, help="folder with c4/")
        ap.add_argument("--family", default="qwen2.5-coder-1.5b", help="healing settings of this family (LoRA rank)")
        ap.add_argument("--remove", type=int, default=7, help="the deepest block of this many layers is removed")
        ap.add_argument("--steps", type=int, default=30)
        ap.add_argument("--seq-len", type=int, default=1024)
        ap.add_argument("--global-batch", type=int, default=16)
        ap.add_argument("--micro-batch", type=int, default=8)
        ap.add_argument("--seed", type=int, default=0)
        ap.add_argument("--quantize", default="nf4", choices=["nf4", "none"])
        ap.add_argument("--attn", default="sdpa")
        run(ap.parse_args(argv))
    else:
        ap.add_argument("--processes", type=int, default=2)
        compare(ap.parse_args(argv))


if __name__ == "__main__":
    main()
