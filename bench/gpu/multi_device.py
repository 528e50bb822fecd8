"""Issue 8 on one GPU: the same model whole on cuda:0 and sharded over cuda:0 + cpu must give the same numbers.

Loads `--model` twice: whole on the first device, and sharded, either with an explicit split (the first
`--split` decoder layers on cuda:0, the rest, the final norm and the LM head on the CPU; `layerprune.
distributed.load_sharded(split_at=...)`) or with `device_map="auto"` and a `max_memory` budget for
cuda:0 of about half the weights (the rest spills to the CPU). For each sharded model it compares
with the whole one: the angular distances (hooks on layers of two devices), MMLU 5-shot (kv-prefix
scorer) and BoolQ predictions on a few real items, C4 loss, and the logits of the pruned model
(`prune_block(..., inplace=True)` on the sharded model). Prints one JSON summary.

    python bench/gpu/multi_device.py --model $LAYERPRUNE_HOME/models/smollm2-135m --data-dir $LP_DATA \
        --dtype float32            # and again with --dtype bfloat16
    python bench/gpu/multi_device.py --model DIR --data-dir DIR --device cpu   # CPU check: both halves on cpu

With `--device cpu` both halves are on the CPU and accelerate's hooks are forced on, so the hooked code
path runs, but no tensor crosses devices: the differences must be exactly 0.
"""
from __future__ import annotations
import argparse, json, math, platform, sys, time
from pathlib import Path

import torch


def _timed(f):
    t = time.perf_counter(); out = f()
    if torch.cuda.is_available(): torch.cuda.synchronize()
    return out, round(time.perf_counter() - t, 3)


def _max_abs(a, b) -> float:
    return float((a.double().cpu() - b.double().cpu()).abs().max())


def _mmlu_boolq_c4(model, tok, data, args):
    from layerprune import eval as E
    out = {}
    out["mmlu"], out["mmlu_s"] = _timed(lambda: E.mmlu_eval(model, tok, data["mmlu_test"], data["mmlu_dev"], k=5,
                                                            limit=args.mmlu_per_subject, progress=False))
    out["boolq"], out["boolq_s"] = _timed(lambda: E.boolq_eval(model, tok, data["boolq"], limit=args.boolq, progress=False))
    out["c4"], out["c4_s"] = _timed(lambda: E.c4_loss(model, data["c4_blocks"], 4, progress=False))
    return out


def _compare(whole: dict, other: dict) -> dict:
    return dict(
        mmlu_same_predictions=whole["mmlu"].predictions == other["mmlu"].predictions,
        mmlu_accuracy=(whole["mmlu"].accuracy, other["mmlu"].accuracy),
        mmlu_logits_max_abs_diff=_max_abs(whole["mmlu"].logits, other["mmlu"].logits),
        boolq_same_predictions=whole["boolq"].predictions == other["boolq"].predictions,
        boolq_accuracy=(whole["boolq"].accuracy, other["boolq"].accuracy),
        boolq_logits_max_abs_diff=_max_abs(whole["boolq"].logits, other["boolq"].logits),
        c4_loss=(whole["c4"].loss, other["c4"].loss), c4_loss_abs_diff=abs(whole["c4"].loss - other["c4"].loss),
        seconds=dict(mmlu=(whole["mmlu_s"], other["mmlu_s"]), boolq=(whole["boolq_s"], other["boolq_s"]),
                     c4=(whole["c4_s"], other["c4_s"])))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint directory")
    ap.add_argument("--data-dir", required=True, help="folder with mmlu/test, mmlu/dev, boolq/val.jsonl (and c4/)")
    ap.add_argument("--device", default="cuda:0", help="the first device (cuda:0), or cpu for the CPU check")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--modes", default="split,auto", help="split (explicit layer split), auto (device_map=auto + max_memory)")
    ap.add_argument("--split", type=int, default=None, help="decoder layers on the first device (default L // 2)")
    ap.add_argument("--subjects", default="abstract_algebra,anatomy,astronomy,college_physics")
    ap.add_argument("--mmlu-per-subject", type=int, default=5)
    ap.add_argument("--boolq", type=int, default=32)
    ap.add_argument("--prune", default=None, help="start,n of the block to remove (default: L//3, L//4)")
    args = ap.parse_args(argv)

    from layerprune import data as D, distributed as DP
    from layerprune.models import load_config, load_model, load_tokenizer
    from layerprune.similarity import angular_distances
    from layerprune.surgery import prune_block

    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available(): sys.exit("No CUDA device: pass --device cpu for the CPU check.")
    dtype = getattr(torch, args.dtype)
    cfg = load_config(args.model)
    L = cfg.num_hidden_layers
    split = args.split or L // 2
    start, n = (int(x) for x in args.prune.split(",")) if args.prune else (L // 3, max(1, L // 4))
    tok = load_tokenizer(args.model)
    dd = Path(args.data_dir)
    subjects = args.subjects.split(",")
    data = dict(mmlu_test=D.load_mmlu("test", dd / "mmlu", subjects=subjects),
                mmlu_dev=D.load_mmlu("dev", dd / "mmlu", subjects=subjects),
                boolq=D.load_boolq("validation", dd / "boolq"))
    try: docs = list(D.load_c4("validation", dd / "c4"))[:64]
    except Exception as e:  # no C4 copy: random tokens still exercise every path
        print(f"(no C4 text: {e}; using random tokens)", file=sys.stderr); docs = None
    g = torch.Generator().manual_seed(0)
    if docs:
        data["c4_blocks"] = D.token_blocks(docs[32:], tok, 8, 256, seed=0)
        dist_batches = list(D.last_token_batches(docs[:32], tok, 8, 512))
    else:
        data["c4_blocks"] = torch.randint(3, cfg.vocab_size, (8, 256), generator=g)
        dist_batches = [torch.randint(3, cfg.vocab_size, (8, 256), generator=g) for _ in range(4)]
    probe = torch.randint(3, min(cfg.vocab_size, 30000), (4, 128), generator=g)

    summary = dict(model=args.model, dtype=args.dtype, device=str(dev), num_layers=L, split=split, prune=[start, n],
                   torch=torch.__version__, python=platform.python_version(),
                   gpu=torch.cuda.get_device_name(dev) if dev.type == "cuda" else None, modes={})
    import transformers, accelerate
    summary.update(transformers=transformers.__version__, accelerate=accelerate.__version__)

    whole, summary["load_whole_s"] = _timed(lambda: load_model(args.model, dtype=dtype, device_map={"": str(dev)}))
    ref_dist, t_dist = _timed(lambda: angular_distances(whole, dist_batches, progress=False))
    ref_eval = _mmlu_boolq_c4(whole, tok, data, args)
    pruned_whole = prune_block(whole, start, n)  # a copy: `whole` stays for the next mode
    with torch.no_grad(): ref_logits = pruned_whole(probe.to(dev)).logits.float().cpu()
    del pruned_whole

    weights_bytes = sum(p.numel() * p.element_size() for p in whole.parameters())
    for mode in args.modes.split(","):
        if dev.type == "cpu" and mode == "auto":
            summary["modes"]["auto"] = "skipped: device_map='auto' on a CPU-only machine is the plain CPU model"; continue
        second = "cpu"
        if mode == "split":
            load = lambda: DP.load_sharded(args.model, split_at=split, devices=(str(dev), second), dtype=dtype,
                                           force_hooks=dev.type == "cpu")
        elif mode == "auto":
            budget = f"{max(1, int(weights_bytes * 0.5 / 2**20))}MiB"
            load = lambda: DP.load_sharded(args.model, max_memory={dev.index or 0: budget, "cpu": "200GiB"}, dtype=dtype)
        else: sys.exit(f"Unknown mode {mode!r}: use split or auto.")
        model, t_load = _timed(load)
        devs = [str(d) for d in DP.layer_devices(model)]
        dist, t_dist2 = _timed(lambda: angular_distances(model, dist_batches, progress=False))
        ev = _mmlu_boolq_c4(model, tok, data, args)
        pruned = prune_block(model, start, n, inplace=True)
        DP.sync_device_map(pruned)
        with torch.no_grad(): logits = pruned(probe.to(dev)).logits.float().cpu()
        top_same = bool((logits.argmax(-1) == ref_logits.argmax(-1)).float().mean() > 0.99)
        summary["modes"][mode] = dict(
            layer_devices={d: devs.count(d) for d in dict.fromkeys(devs)}, first_layer_on_second=devs.index(second) if second in devs else None,
            hf_device_map_devices=sorted({str(v) for v in getattr(model, "hf_device_map", {}).values()}),
            load_s=t_load, distances_s=(t_dist, t_dist2),
            distances_max_abs_diff=float(abs(ref_dist.matrix - dist.matrix).max()),
            same_l_star=_best(ref_dist) == _best(dist),
            pruned_logits_max_abs_diff=_max_abs(ref_logits, logits),
            pruned_logits_rel_diff=_max_abs(ref_logits, logits) / float(ref_logits.abs().max()),
            pruned_top1_agree_99pct=top_same, pruned_num_layers=pruned.config.num_hidden_layers,
            **_compare(ref_eval, ev))
        del model, pruned
        if torch.cuda.is_available(): torch.cuda.empty_cache()
    summary["ok"] = all(isinstance(m, str) or (m["mmlu_same_predictions"] and m["boolq_same_predictions"] and m["same_l_star"])
                        for m in summary["modes"].values())
    print(json.dumps(summary, indent=1, default=str))
    return summary


def _best(dist) -> dict:
    from layerprune.similarity import best_blocks
    return best_blocks(dist)


if __name__ == "__main__":
    main()
