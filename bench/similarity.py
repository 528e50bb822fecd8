"""Benchmark P1: cost of the all-(l, n) angular distances against a plain forward pass and the peers' one-n-per-pass approach.

(a)  one plain forward pass of the model trunk (base model: decoder stack + final norm, no LM head, no cache);
(a') one plain forward pass of the full causal LM (LM head over every position), for reference;
(b)  layerprune.similarity.angular_distances: every d(x^l, x^{l+n}) for all (l, n) in one pass;
(c)  the peers' approach (PruneMe): for each n = 1..L-1 a full `model(..., output_hidden_states=True)` pass
     and d(x^l, x^{l+n}) from the hidden-state tuple (which also has the final-norm off-by-one; timing only).

Each measurement covers all --n-batches batches of --batch x --seq-len tokens of C4 validation text; the
median of --repeats runs is reported (after one warm-up). Goals: (b)/(a) <= 1.05, (c)/(b) >= 25 for L = 30.

    python bench/similarity.py --model scratch/smollm2-135m --device cpu --batch 8 --seq-len 256
"""
from __future__ import annotations
import argparse, gzip, json, math, platform, statistics, time
from pathlib import Path

import torch

from layerprune.models import compiled_layers, load_model, load_tokenizer, num_layers
from layerprune.similarity import angular_distances, last_token_index


def c4_blocks(tokenizer, path: Path, n_rows: int, seq_len: int) -> torch.Tensor:
    "n_rows blocks of seq_len tokens of C4 text (layerprune.data.token_blocks; a plain EOS-joined cut without it)."
    try:
        from layerprune.data import read_text_jsonl, token_blocks
    except ImportError:
        read_text_jsonl = token_blocks = None
    if token_blocks is not None:
        return token_blocks(read_text_jsonl(path, limit=max(200, n_rows * seq_len // 100)), tokenizer, n_rows, seq_len)
    ids: list[int] = []
    with gzip.open(path, "rt") as f:
        for line in f:
            ids += tokenizer(json.loads(line)["text"]).input_ids + [tokenizer.eos_token_id]
            if len(ids) >= n_rows * seq_len: break
    if len(ids) < n_rows * seq_len: raise ValueError(f"{path} has fewer than {n_rows * seq_len} tokens.")
    return torch.tensor(ids[: n_rows * seq_len]).view(n_rows, seq_len)


def sync(device):
    if device.type == "cuda": torch.cuda.synchronize(device)


def timed(fn, device) -> float:
    sync(device); t = time.perf_counter(); fn(); sync(device)
    return time.perf_counter() - t


def peer_one_n_per_pass(model, batches, L):
    "PruneMe-style: one full forward with output_hidden_states per n, distances of that n only."
    out = {}
    for n in range(1, L):
        total = torch.zeros(L + 1 - n, dtype=torch.float64)
        for b in batches:
            with torch.no_grad():
                hs = model(**b, output_hidden_states=True).hidden_states
            idx = last_token_index(b["attention_mask"])
            rows = torch.arange(idx.shape[0], device=idx.device)
            for l in range(L + 1 - n):
                a, c = hs[l][rows, idx].float(), hs[l + n][rows, idx].float()
                cos = torch.nn.functional.cosine_similarity(a, c, dim=-1).clamp(-1, 1)
                total[l] += (torch.arccos(cos) / math.pi).sum().double().cpu()
        out[n] = total
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2-135m", help="checkpoint directory or zoo key")
    p.add_argument("--data", default=None, help="C4 validation .json.gz (default: $LAYERPRUNE_DATA/c4/...)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--n-batches", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--peer-repeats", type=int, default=None, help="repeats of (c); default --repeats")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--random-weights", action="store_true",
                   help="build the model from its config with random weights (timing only; for machines without the checkpoint)")
    p.add_argument("--compile", action="store_true",
                   help="every measured pass with its decoder layers under torch.compile (layerprune.models.compiled_layers)")
    p.add_argument("--json-out", default=None)
    args = p.parse_args(argv)
    if args.threads: torch.set_num_threads(args.threads)
    import os
    src = Path(args.model)
    if not src.exists():
        from layerprune import zoo
        src = Path(zoo.fetch(args.model))
    data = Path(args.data or Path(os.environ.get("LAYERPRUNE_DATA", "../shared/data")) / "c4" / "c4-validation.sample-2k.json.gz")
    device = torch.device(args.device)
    if args.random_weights:
        from transformers import AutoModelForCausalLM
        from layerprune.models import load_config
        torch.manual_seed(0)
        with torch.device(device):  # built where it runs: a 7B shape is not initialised on the host first
            model = AutoModelForCausalLM.from_config(load_config(src), dtype=getattr(torch, args.dtype))
    else:
        model = load_model(src, dtype=getattr(torch, args.dtype))
    model = model.to(device).eval()
    tok = load_tokenizer(src)
    L = num_layers(model)
    blocks = c4_blocks(tok, data, args.batch * args.n_batches, args.seq_len)
    batches = [{"input_ids": x.to(device), "attention_mask": torch.ones_like(x, device=device)}
               for x in blocks.split(args.batch)]

    def plain_trunk():
        with torch.inference_mode():
            for b in batches: model.base_model(**b, use_cache=False)

    def plain_full():
        with torch.inference_mode():
            for b in batches: model(**b, use_cache=False)

    def ours(): return angular_distances(model, batches, progress=False)

    def peers(): return peer_one_n_per_pass(model, batches, L)

    times = {"a_trunk": [], "a_full": [], "b_ours": [], "c_peers": []}
    with compiled_layers(model, args.compile):  # the same compiled layers for every path (compiled in the warm-up)
        for fn in (plain_trunk, plain_full, ours): fn()  # warm-up
        for r in range(args.repeats):  # interleaved, so load changes on a shared machine hit all alike
            times["a_trunk"].append(timed(plain_trunk, device))
            times["b_ours"].append(timed(ours, device))
            times["a_full"].append(timed(plain_full, device))
            print(f"repeat {r}: a={times['a_trunk'][-1]:.3f}s b={times['b_ours'][-1]:.3f}s a'={times['a_full'][-1]:.3f}s", flush=True)
        for r in range(args.peer_repeats or args.repeats):
            times["c_peers"].append(timed(peers, device))
            print(f"peer repeat {r}: c={times['c_peers'][-1]:.3f}s", flush=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    ratio_b_a = statistics.median(b / a for a, b in zip(times["a_trunk"], times["b_ours"]))
    res = dict(model=str(src), random_weights=args.random_weights, compile=args.compile, L=L, load_average=os.getloadavg(), cpu_count=os.cpu_count(), device=str(device), device_name=(torch.cuda.get_device_name(device) if device.type == "cuda"
               else platform.processor() or platform.machine()), torch_threads=torch.get_num_threads(),
               dtype=args.dtype, batch=args.batch, seq_len=args.seq_len, n_batches=args.n_batches, repeats=args.repeats,
               median_s=med, all_s=times, b_over_a_trunk=ratio_b_a, b_over_a_full=med["b_ours"] / med["a_full"],
               c_over_b=med["c_peers"] / med["b_ours"], c_over_a_trunk=med["c_peers"] / med["a_trunk"])
    print(f"\nL={L}, {args.n_batches} x {args.batch} x {args.seq_len} tokens, {device}, {args.dtype}")
    print("| measurement | median s |\n|---|---|")
    for k, label in (("a_trunk", "(a) plain forward, trunk (no LM head)"), ("a_full", "(a') plain forward, full causal LM"),
                     ("b_ours", "(b) one-pass all-(l, n) distances"), ("c_peers", f"(c) peers, one pass per n (n=1..{L - 1})")):
        print(f"| {label} | {med[k]:.3f} |")
    print(f"(b)/(a) = {ratio_b_a:.3f} (median of per-repeat ratios); (b)/(a') = {res['b_over_a_full']:.3f}; "
          f"(c)/(b) = {res['c_over_b']:.1f}")
    if args.json_out: Path(args.json_out).write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
