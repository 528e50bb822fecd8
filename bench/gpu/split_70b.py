"""Issue 18, run 1: a Llama-2-70B-shaped random model (bf16, ~129 GiB) over two GPUs with a layer split, then the
same model (same seed) split at another layer: distances, scores and logits must not change.

For each split: `layerprune.models.random_model` builds the model straight onto both devices (weights seeded by
name, so both splits hold the same weights); the one-pass angular distances over C4 `distances`-role documents;
MMLU 5-shot (kv-prefix scorer) and BoolQ on a subset; C4 loss on `loss`-role blocks; then
`prune_block(..., inplace=True)` + `sync_device_map` and the pruned model's logits on a probe batch. Records the
time of each step and `max_memory_allocated` per GPU. The random Llama uses the SmolLM2 tokenizer (vocabulary
49,152 instead of Llama's 32,000). Writes OUT/split_70b.json.

    python bench/gpu/split_70b.py --tokenizer TOK --data-dir DATA --out OUT                       # 2 GPUs, splits 40,30
    python bench/gpu/split_70b.py --tokenizer TOK --data-dir DATA --out OUT --tiny --devices cpu,cpu   # CPU check
"""
from __future__ import annotations
import argparse, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C
import torch


def one_split(cfg, first: int, devices, dtype, args, data) -> tuple[dict, dict]:
    "Build, measure and prune one split; (numbers, tensors to compare)."
    from layerprune import distributed as DP, eval as E
    from layerprune.models import random_model
    from layerprune.similarity import angular_distances, best_blocks
    from layerprune.surgery import prune_block
    C.free(); C.reset_peaks()
    dm = DP.layer_split_device_map(cfg, first, devices)
    force = len({str(d) for d in devices}) == 1  # cpu,cpu: hooks still on, the code path of two devices
    model, t_build = C.timed(lambda: random_model(cfg, dm, dtype, seed=args.seed))
    if force and not hasattr(model, "_hf_hook"):
        from accelerate import dispatch_model
        dispatch_model(model, dm, force_hooks=True, skip_keys=model._skip_keys_device_placement)
    devs = [str(d) for d in DP.layer_devices(model)]
    mem_weights = C.memory()
    dist, t_dist = C.timed(lambda: angular_distances(model, data["dist_batches"], progress=False))
    tok = data["tok"]
    mmlu, t_mmlu = C.timed(lambda: E.mmlu_eval(model, tok, data["mmlu_test"], data["mmlu_dev"], k=5, limit=args.mmlu_per_subject,
                                               batch_tokens=args.batch_tokens, progress=False))
    boolq, t_boolq = C.timed(lambda: E.boolq_eval(model, tok, data["boolq"], limit=args.boolq, batch_tokens=args.batch_tokens,
                                                  progress=False))
    c4, t_c4 = C.timed(lambda: E.c4_loss(model, data["c4_blocks"], args.c4_batch, progress=False))
    with torch.no_grad(): logits, t_fwd = C.timed(lambda: model(data["probe"].to(devs[0])).logits.float().cpu())
    start, n = data["prune"]
    pruned, t_prune = C.timed(lambda: prune_block(model, start, n, inplace=True))
    dm_after = DP.sync_device_map(pruned)
    pdevs = [str(d) for d in DP.layer_devices(pruned)]
    with torch.no_grad(): plogits, t_pfwd = C.timed(lambda: pruned(data["probe"].to(devs[0])).logits.float().cpu())
    out = dict(split_at=first, layer_devices={d: devs.count(d) for d in dict.fromkeys(devs)},
               seconds=dict(build=t_build, distances=t_dist, mmlu=t_mmlu, boolq=t_boolq, c4=t_c4, forward_probe=t_fwd,
                            prune=t_prune, pruned_forward_probe=t_pfwd),
               distance_tokens=int(sum(b["attention_mask"].sum() for b in data["dist_batches"])),
               memory_weights=mem_weights, memory_peak=C.memory(), l_star=best_blocks(dist),
               mmlu_accuracy=mmlu.accuracy, mmlu_questions=len(mmlu.predictions), boolq_accuracy=boolq.accuracy,
               boolq_examples=len(boolq.predictions), c4_loss=c4.loss, pruned_layers=pruned.config.num_hidden_layers,
               pruned_layer_devices={d: pdevs.count(d) for d in dict.fromkeys(pdevs)},
               pruned_device_map_entries=len(dm_after))
    keep = dict(dist=torch.as_tensor(dist.matrix), mmlu_logits=mmlu.logits, mmlu_pred=mmlu.predictions,
                boolq_logits=boolq.logits, boolq_pred=boolq.predictions, c4=c4.loss, logits=logits, pruned_logits=plogits)
    del model, pruned; C.free()
    return out, keep


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokenizer", required=True, help="folder with the SmolLM2 tokenizer files")
    ap.add_argument("--data-dir", required=True, help="folder with mmlu/ boolq/ c4/")
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default="llama-2-70b", help="a key of layerprune.models.PAPER_CONFIGS")
    ap.add_argument("--tiny", action="store_true", help="the same code paths at a tiny shape (CPU check)")
    ap.add_argument("--devices", default="cuda:0,cuda:1")
    ap.add_argument("--splits", default=None, help="two split points, layers on the first device (default L/2, 3L/8)")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--subjects", default="abstract_algebra,anatomy,astronomy,college_physics")
    ap.add_argument("--mmlu-per-subject", type=int, default=5)
    ap.add_argument("--boolq", type=int, default=32)
    ap.add_argument("--dist-docs", type=int, default=32, help="C4 distances-role documents (one pass)")
    ap.add_argument("--dist-len", type=int, default=1024)
    ap.add_argument("--c4-blocks", type=int, default=8)
    ap.add_argument("--c4-len", type=int, default=1024)
    ap.add_argument("--c4-batch", type=int, default=4)
    ap.add_argument("--batch-tokens", type=int, default=16384)
    ap.add_argument("--prune", default=None, help="start,n of the block removed (default: deepest L/4)")
    args = ap.parse_args(argv)

    from layerprune import data as D
    from layerprune.models import load_tokenizer
    from layerprune.similarity import deepest_block
    devices = args.devices.split(",")
    if any(d.startswith("cuda") for d in devices) and torch.cuda.device_count() < 2:
        sys.exit(f"--devices {args.devices} needs 2 GPUs, this machine has {torch.cuda.device_count()}: "
                 "pass --tiny --devices cpu,cpu for the CPU check.")
    tok = load_tokenizer(args.tokenizer)
    cfg = C.random_config(args.config, tok, args.tiny)
    L = cfg.num_hidden_layers
    splits = [int(s) for s in args.splits.split(",")] if args.splits else [L // 2, 3 * L // 8]
    n = max(1, L // 4)
    start, n = (int(x) for x in args.prune.split(",")) if args.prune else (deepest_block(L, n), n)
    dd = Path(args.data_dir)
    subjects = args.subjects.split(",")
    data = dict(tok=tok, prune=(start, n),
                mmlu_test=D.load_mmlu("test", dd / "mmlu", subjects=subjects),
                mmlu_dev=D.load_mmlu("dev", dd / "mmlu", subjects=subjects),
                boolq=D.load_boolq("validation", dd / "boolq"),
                dist_batches=list(D.last_token_batches(C.c4_role(dd, "distances", args.dist_docs), tok, 8, args.dist_len)),
                c4_blocks=D.token_blocks(C.c4_role(dd, "loss"), tok, args.c4_blocks, args.c4_len, seed=0),
                probe=torch.randint(3, len(tok), (2, 256), generator=torch.Generator().manual_seed(0)))
    dtype = getattr(torch, args.dtype)
    summary = dict(run="issue 18 run 1: a model that does not fit one GPU", config=args.config, tiny=args.tiny,
                   vocab_size=cfg.vocab_size, vocab_note="SmolLM2 tokenizer (49,152), not Llama's 32,000",
                   num_layers=L, dtype=args.dtype, devices=devices, prune=[start, n],
                   parameters_b=None, splits={})
    kept = []
    for s in splits:
        numbers, keep = one_split(cfg, s, devices, dtype, args, data)
        summary["splits"][str(s)] = numbers; kept.append(keep)
        print(f"split {s}: {numbers['seconds']}", file=sys.stderr, flush=True)
    a, b = kept
    summary["compare"] = dict(
        distances_max_abs_diff=C.max_abs(a["dist"], b["dist"]), logits_max_abs_diff=C.max_abs(a["logits"], b["logits"]),
        pruned_logits_max_abs_diff=C.max_abs(a["pruned_logits"], b["pruned_logits"]),
        mmlu_logits_max_abs_diff=C.max_abs(a["mmlu_logits"], b["mmlu_logits"]),
        boolq_logits_max_abs_diff=C.max_abs(a["boolq_logits"], b["boolq_logits"]),
        c4_loss_abs_diff=abs(a["c4"] - b["c4"]),
        mmlu_same_predictions=a["mmlu_pred"] == b["mmlu_pred"], boolq_same_predictions=a["boolq_pred"] == b["boolq_pred"],
        same_l_star=summary["splits"][str(splits[0])]["l_star"] == summary["splits"][str(splits[1])]["l_star"])
    cmp = summary["compare"]
    summary["ok"] = bool(cmp["mmlu_same_predictions"] and cmp["boolq_same_predictions"] and cmp["same_l_star"])
    summary["parameters_b"] = round(sum(p.numel() for p in _shape_params(cfg)) / 1e9, 3)
    C.finish(summary, args.out, "split_70b")


def _shape_params(cfg):
    "The parameters of `cfg`'s model, on the meta device (a count, no memory)."
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM
    with init_empty_weights(): return list(AutoModelForCausalLM.from_config(cfg).parameters())


if __name__ == "__main__":
    main()
