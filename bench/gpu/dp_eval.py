"""Issue 18, run 2: data-parallel MMLU (5-shot, kv-prefix scorer) and BoolQ over NCCL, against one process.

`run` (the default) is launched once with 2 processes and once with 1; each process scores its share with
`layerprune.distributed.dp_mmlu_eval` / `dp_boolq_eval`, and the main process writes the table (`write_results`:
OUT/results_<P>proc.csv) and the predictions (OUT/dp_eval_<P>proc.json, logits in .pt). `compare` then says whether
the 2-process predictions equal the 1-process ones, the largest logit difference, and the speed-up.
Writes OUT/dp_eval_compare.json.

    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no \\
        bench/gpu/dp_eval.py --model DIR --data-dir DATA --out OUT
    accelerate launch --num_processes 1 --num_machines 1 --mixed_precision no --dynamo_backend no \\
        bench/gpu/dp_eval.py --model DIR --data-dir DATA --out OUT
    python bench/gpu/dp_eval.py compare --out OUT
CPU check: `torchrun --standalone --nproc_per_node 2 bench/gpu/dp_eval.py ...` (gloo) with a tiny checkpoint,
`--subjects abstract_algebra,anatomy --limit 3 --boolq-limit 16 --dtype float32`.
"""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C
import torch


def run(args):
    from layerprune import data as D, distributed as DP
    from layerprune.models import load_model, load_tokenizer
    state = DP.process_state()
    P = state.num_processes
    dd = Path(args.data_dir)
    subjects = None if args.subjects == "all" else args.subjects.split(",")
    test, dev = D.load_mmlu("test", dd / "mmlu", subjects=subjects), D.load_mmlu("dev", dd / "mmlu", subjects=subjects)
    boolq = D.load_boolq("validation", dd / "boolq")
    dtype = getattr(torch, args.dtype)
    model, t_load = C.timed(lambda: load_model(args.model, dtype=dtype, device_map={"": str(state.device)},
                                               attn_implementation=args.attn))
    tok = load_tokenizer(args.model)
    with torch.no_grad(): model(torch.ones(1, 16, dtype=torch.long, device=state.device))  # warm-up: kernels, cuBLAS handles
    state.wait_for_everyone()
    t0 = time.perf_counter()
    mmlu = DP.dp_mmlu_eval(model, tok, test, dev, k=5, limit=args.limit, batch_tokens=args.batch_tokens,
                           progress=False, state=state)
    t_mmlu = time.perf_counter() - t0
    state.wait_for_everyone()
    t0 = time.perf_counter()
    bq = DP.dp_boolq_eval(model, tok, boolq, limit=args.boolq_limit, batch_tokens=args.batch_tokens, progress=False, state=state)
    t_boolq = time.perf_counter() - t0
    out = Path(args.out)
    DP.write_results({"mmlu": mmlu.to_row(), "boolq": bq.to_row()}, out / f"results_{P}proc.csv", state=state)
    summary = dict(run="issue 18 run 2: NCCL data-parallel evaluation", processes=P, model=Path(args.model).name,
                   dtype=args.dtype, batch_tokens=args.batch_tokens, load_s=t_load,
                   mmlu=dict(questions=len(mmlu.predictions), accuracy=mmlu.accuracy, macro_accuracy=mmlu.macro_accuracy,
                             seconds=round(t_mmlu, 3)),
                   boolq=dict(examples=len(bq.predictions), accuracy=bq.accuracy, seconds=round(t_boolq, 3)),
                   memory=C.memory())
    if state.is_main_process:
        torch.save(dict(mmlu=mmlu.logits, boolq=bq.logits), out / f"dp_eval_{P}proc_logits.pt")
        C.finish(dict(summary, mmlu_predictions=mmlu.predictions, boolq_predictions=bq.predictions), out, f"dp_eval_{P}proc")
    state.wait_for_everyone()


def compare(args):
    out = Path(args.out)
    load = lambda p: json.loads((out / f"dp_eval_{p}proc.json").read_text())
    one, many = load(1), load(args.processes)
    l1, lp = (torch.load(out / f"dp_eval_{p}proc_logits.pt") for p in (1, args.processes))
    res = dict(run="issue 18 run 2: compare", processes=args.processes, model=one["model"])
    for task in ("mmlu", "boolq"):
        res[task] = dict(same_predictions=one[f"{task}_predictions"] == many[f"{task}_predictions"],
                         n=len(one[f"{task}_predictions"]),
                         differing=sum(a != b for a, b in zip(one[f"{task}_predictions"], many[f"{task}_predictions"])),
                         logits_max_abs_diff=C.max_abs(l1[task], lp[task]),
                         accuracy=(one[task]["accuracy"], many[task]["accuracy"]),
                         seconds=(one[task]["seconds"], many[task]["seconds"]),
                         speedup=round(one[task]["seconds"] / max(many[task]["seconds"], 1e-9), 3))
    tot1 = one["mmlu"]["seconds"] + one["boolq"]["seconds"]
    totp = many["mmlu"]["seconds"] + many["boolq"]["seconds"]
    res.update(speedup_total=round(tot1 / max(totp, 1e-9), 3),
               tables=[f"results_{p}proc.csv" for p in (1, args.processes) if (out / f"results_{p}proc.csv").exists()],
               ok=res["mmlu"]["same_predictions"] and res["boolq"]["same_predictions"])
    C.finish(res, out, "dp_eval_compare")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    mode = argv.pop(0) if argv and argv[0] in ("run", "compare") else "run"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    if mode == "run":
        ap.add_argument("--model", required=True, help="checkpoint directory (e.g. $LAYERPRUNE_HOME/models/qwen2.5-coder-1.5b)")
        ap.add_argument("--data-dir", required=True, help="folder with mmlu/ boolq/")
        ap.add_argument("--subjects", default="all")
        ap.add_argument("--limit", type=int, default=None, help="MMLU questions per subject (default: all)")
        ap.add_argument("--boolq-limit", type=int, default=None, help="BoolQ examples (default: the whole validation set)")
        ap.add_argument("--batch-tokens", type=int, default=65536)
        ap.add_argument("--dtype", default="bfloat16")
        ap.add_argument("--attn", default="sdpa")
        run(ap.parse_args(argv))
    else:
        ap.add_argument("--processes", type=int, default=2)
        compare(ap.parse_args(argv))


if __name__ == "__main__":
    main()
