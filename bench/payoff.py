"""Issue 19 P6, the payoff: what removing the deepest layers buys at inference, on one GPU.

For each model (a checkpoint, e.g. Qwen2.5-Coder-1.5B, and a random-weight Llama-2-7B shape built straight on the
GPU by `layerprune.models.random_model`, with the SmolLM2 tokenizer's vocabulary of 49,152 instead of Llama's
32,000), bf16 and NF4, at 0, 25 and 50% of the layers removed (the deepest block, `prune_block` at `deepest_block`,
pruned in place from the model loaded once):
- prefill tokens/s: one forward of [1, --prefill-len] (median of --repeats);
- decode tokens/s at batch 1 and --batch: plain `generate` (SDPA, greedy, dynamic cache), from the difference of a
  run with --new-tokens and one with 1 new token, so the prefill is not counted; `--static` also tries
  `cache_implementation="static"` (compiled by transformers) and keeps the faster;
- memory: the weights (`memory_allocated` after loading/pruning) and the peak of a [1, --context] prefill that
  keeps its KV cache (`max_memory_allocated`), with the KV cache's size from the shapes.
Writes OUT/payoff.json and OUT/payoff.png/.pdf: time per token and memory relative to 0% against the fraction
removed, with the paper's claim (both fall linearly: 1 - n/L) as a line through the 0% point.

    python bench/payoff.py --model $LAYERPRUNE_HOME/models/qwen2.5-coder-1.5b --tokenizer TOK --out OUT
    python bench/payoff.py --shape SHAPE_DIR --tokenizer TOK --out OUT   # a checkpoint's shape (config.json), random weights
    python bench/payoff.py --model TINY_CKPT --tokenizer TOK --out OUT --tiny --device cpu --prefill-len 64 \\
        --context 128 --prompt-len 16 --new-tokens 4 --batch 4                                    # CPU check
"""
from __future__ import annotations
import argparse, statistics, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "gpu"))
import common as C
import torch


def kv_cache_bytes(config, tokens: int, batch: int = 1, bytes_per: int = 2) -> int:
    "Keys and values of every layer for `tokens` positions (bf16)."
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return 2 * config.num_hidden_layers * config.num_key_value_heads * head_dim * tokens * batch * bytes_per


def decode_rate(model, batch: int, prompt_len: int, new: int, vocab: int, device, repeats: int = 3, **gen) -> dict:
    """Decode tokens/s of `generate`: (batch x (new - 1)) / (t(new) - t(1)), each time the median of `repeats` runs
    after a warm-up of both lengths (the first `generate` calls of a fresh model pay one-off costs)."""
    ids = torch.randint(3, vocab, (batch, prompt_len), generator=torch.Generator().manual_seed(1)).to(device)
    kw = dict(do_sample=False, pad_token_id=0, attention_mask=torch.ones_like(ids), **gen)
    run = lambda n: C.timed(lambda: model.generate(ids, max_new_tokens=n, min_new_tokens=n, **kw))[1]
    run(1); run(new)  # warm-up
    t1 = statistics.median(run(1) for _ in range(repeats))
    tn = statistics.median(run(new) for _ in range(repeats))
    return dict(batch=batch, new_tokens=new, seconds=tn, seconds_one_token=t1, repeats=repeats,
                tokens_per_s=round(batch * (new - 1) / max(tn - t1, 1e-9), 1))


def measure(model, args, device) -> dict:
    cfg, vocab = model.config, model.config.vocab_size
    weights = C.memory()
    ids = torch.randint(3, vocab, (1, args.prefill_len), generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        model(ids[:, :16], use_cache=False, logits_to_keep=1)  # warm-up
        ts = [C.timed(lambda: model(ids, use_cache=False, logits_to_keep=1))[1] for _ in range(args.repeats)]
    prefill = dict(tokens=args.prefill_len, seconds=statistics.median(ts), tokens_per_s=round(args.prefill_len / statistics.median(ts), 1))
    decode = {}
    for b in (1, args.batch):
        decode[f"batch{b}"] = d = decode_rate(model, b, args.prompt_len, args.new_tokens, vocab, device, args.repeats)
        if args.static:
            try:
                s = decode_rate(model, b, args.prompt_len, args.new_tokens, vocab, device, args.repeats, cache_implementation="static")
                d["static"] = s
                if s["tokens_per_s"] > d["tokens_per_s"]: d["best"] = "static"
            except Exception as e: d["static"] = dict(error=f"{type(e).__name__}: {str(e)[:200]}")
    ctx = torch.randint(3, vocab, (1, args.context), generator=torch.Generator().manual_seed(2)).to(device)
    C.reset_peaks()
    with torch.no_grad(): out = model(ctx, use_cache=True, logits_to_keep=1)
    peak = C.memory()
    del out; C.free()
    dev = str(device) if device.type == "cuda" else None
    return dict(layers=cfg.num_hidden_layers, prefill=prefill, decode=decode,
                weights_gib=weights[dev]["allocated_gib"] if dev else None,
                weights_bytes_by_tensors=sum(p.numel() * p.element_size() for p in model.parameters()),
                peak_4k_context_gib=peak[dev]["max_allocated_gib"] if dev else None,
                kv_cache_gib=round(kv_cache_bytes(cfg, args.context) / C.GiB, 4), context=args.context)


def sweep(name: str, build, L: int, fracs, args, device) -> list[dict]:
    "Build once per dtype, measure, prune the deepest block further, measure again."
    from layerprune.similarity import deepest_block
    from layerprune.surgery import prune_block
    rows = []
    for quant in args.dtypes.split(","):
        C.free(); C.reset_peaks()
        model, t_load = C.timed(lambda: build(quant))
        removed = 0
        for frac in fracs:
            n = round(frac * L)
            if n > removed:
                prune_block(model, deepest_block(L - removed, n - removed), n - removed, inplace=True); C.free()
                removed = n
            row = dict(model=name, dtype=quant, frac=frac, removed=n, load_s=t_load, **measure(model, args, device))
            rows.append(row)
            print({k: row[k] for k in ("model", "dtype", "frac", "prefill", "weights_gib")}, file=sys.stderr, flush=True)
        del model; C.free()
    return rows


def plot(rows: list[dict], path: Path):
    "Time per token and memory relative to the 0% point of each series, against the fraction removed, with 1 - n/L."
    import matplotlib; matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from layerprune.plots import COLORBLIND
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    metrics = {"prefill": lambda r: 1 / r["prefill"]["tokens_per_s"],
               "decode b=1": lambda r: 1 / r["decode"]["batch1"]["tokens_per_s"],
               "decode b=B": lambda r: 1 / next(v for k, v in r["decode"].items() if k != "batch1")["tokens_per_s"]}
    mem = lambda r: r["peak_4k_context_gib"] or r["weights_bytes_by_tensors"]
    series = sorted({(r["model"], r["dtype"]) for r in rows})
    colors = {m: COLORBLIND[i] for i, m in enumerate(sorted({m for m, _ in series}))}
    markers = dict(zip(metrics, "os^"))
    for model, dtype in series:
        rs = sorted((r for r in rows if r["model"] == model and r["dtype"] == dtype), key=lambda r: r["frac"])
        if not rs or rs[0]["frac"] != 0: continue
        ls = "-" if dtype == "bfloat16" else "--"
        for m, f in metrics.items():
            axes[0].plot([r["frac"] for r in rs], [f(r) / f(rs[0]) for r in rs], ls=ls, marker=markers[m], color=colors[model],
                         label=f"{model} {dtype} {m}")
        axes[1].plot([r["frac"] for r in rs], [mem(r) / mem(rs[0]) for r in rs], ls=ls, marker="o", color=colors[model],
                     label=f"{model} {dtype}")
    for ax, what in zip(axes, ["time per token (relative to 0%)", "peak memory, 4k context (relative to 0%)"]):
        ax.plot([0, 0.6], [1, 0.4], color="0.2", lw=1, ls=":", label="paper: linear, 1 - n/L")
        ax.set_xlabel("fraction of layers removed, n/L"); ax.set_ylabel(what); ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=5, loc="lower left"); axes[1].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    for ext in ("png", "pdf"): fig.savefig(path.with_suffix(f".{ext}"), dpi=150)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="", help="checkpoint directory (e.g. qwen2.5-coder-1.5b); '' to skip")
    ap.add_argument("--shape", default="", help="a folder with a checkpoint's config.json: that shape with random weights "
                    "(time and memory do not depend on the weights' values)")
    ap.add_argument("--tokenizer", required=True, help="SmolLM2 tokenizer folder, for the random Llama-2-7B")
    ap.add_argument("--out", required=True)
    ap.add_argument("--random", default="llama-2-7b", help="paper shape to build at random ('' to skip)")
    ap.add_argument("--tiny", action="store_true", help="the random model at a tiny shape (CPU check)")
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--fracs", default="0,0.25,0.5")
    ap.add_argument("--dtypes", default="bfloat16,nf4")
    ap.add_argument("--prefill-len", type=int, default=4096)
    ap.add_argument("--context", type=int, default=4096)
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--static", action="store_true", help="also try the static-cache (compiled) generate path")
    args = ap.parse_args(argv)
    from layerprune.models import load_model, load_tokenizer, random_model
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available(): sys.exit("No CUDA device: pass --device cpu (and --tiny) for the CPU check.")
        torch.cuda.set_device(device)
    fracs = [float(f) for f in args.fracs.split(",")]
    cdt = torch.bfloat16
    rows = []
    from layerprune.models import load_config
    if args.model:
        ckpt = lambda q: load_model(args.model, dtype=cdt, device_map={"": str(device)}, attn_implementation="sdpa",
                                    load_in_4bit=q == "nf4", compute_dtype=cdt)
        rows += sweep(Path(args.model).name, ckpt, load_config(args.model).num_hidden_layers, fracs, args, device)
    if args.shape:
        scfg = load_config(args.shape)
        scfg._attn_implementation = "sdpa"
        shaped = lambda q: random_model(scfg, str(device), cdt, seed=0, load_in_4bit=q == "nf4")
        rows += sweep(f"{Path(args.shape).name} (random weights)", shaped, scfg.num_hidden_layers, fracs, args, device)
    if args.random:
        cfg = C.random_config(args.random, load_tokenizer(args.tokenizer), args.tiny)
        cfg._attn_implementation = "sdpa"
        rand = lambda q: random_model(cfg, str(device), cdt, seed=0, load_in_4bit=q == "nf4")
        rows += sweep(f"random {args.random}" + (" (tiny)" if args.tiny else ""), rand, cfg.num_hidden_layers, fracs, args, device)
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    plot(rows, out / "payoff")
    C.finish(dict(run="issue 19 P6: the payoff", device=str(device), vocab_note="random Llama: SmolLM2 tokenizer (49,152), not Llama's 32,000",
                  claim="paper: memory and inference time fall linearly with the layers removed (1 - n/L)",
                  settings=dict(prefill_len=args.prefill_len, context=args.context, prompt_len=args.prompt_len,
                                new_tokens=args.new_tokens, batch=args.batch, generate="transformers generate, SDPA, greedy, dynamic cache"
                                + (" (+ static cache tried)" if args.static else "")),
                  points=rows, figure="payoff.png"), out, "payoff")


if __name__ == "__main__":
    main()
