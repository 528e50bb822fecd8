"""Issue 15: float32 against bfloat16 on this CPU, for SmolLM2-135M (the main job's model): forward tokens/s and the
angular-distance pass, and what `layerprune.models.default_dtype` chooses here. bfloat16 is fast only where the CPU
has it natively (AVX512-BF16 or AMX); elsewhere PyTorch emulates it.

    python bench/precision.py                 # prints one JSON line; numbers go to bench/RESULTS.md ("Precision")
"""
from __future__ import annotations
import argparse, json, os, platform, sys, time

import torch


def tokens_per_s(model, ids: torch.Tensor, repeats: int) -> float:
    "Median tokens/s of a no-grad forward of `ids` (after one warm-up)."
    with torch.no_grad():
        model(ids[:, :8])
        ts = []
        for _ in range(repeats):
            t = time.perf_counter(); model(ids); ts.append(time.perf_counter() - t)
    return round(ids.numel() / sorted(ts)[len(ts) // 2], 1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    from layerprune import data as D
    from layerprune.models import default_dtype, load_model, load_tokenizer, machine_class
    from layerprune.similarity import angular_distances
    from layerprune.zoo import resolve_model
    src = resolve_model(args.model)
    tok = load_tokenizer(src)
    ids = torch.randint(3, len(tok), (args.batch, args.seq_len), generator=torch.Generator().manual_seed(0))
    docs = D.split_documents(D.load_c4("validation"), D.C4_ROLES)["distances"][: args.batch]
    out = dict(machine=machine_class("cpu"), cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads(),
               capability=torch.backends.cpu.get_cpu_capability(), default_dtype=str(default_dtype("cpu")).split(".")[-1],
               batch=args.batch, seq_len=args.seq_len)
    for dt in ("float32", "bfloat16"):
        m = load_model(src, dtype=getattr(torch, dt))
        t = time.perf_counter()
        angular_distances(m, D.last_token_batches(docs, tok, args.batch, args.seq_len), progress=False)
        out[dt] = dict(forward_tokens_per_s=tokens_per_s(m, ids, args.repeats), distances_s=round(time.perf_counter() - t, 2))
    out["float32_over_bfloat16"] = round(out["float32"]["forward_tokens_per_s"] / out["bfloat16"]["forward_tokens_per_s"], 1)
    out |= dict(command=" ".join(["python bench/precision.py", *(argv if argv is not None else sys.argv[1:])]),
                date=time.strftime("%Y-%m-%d", time.gmtime()), load_1min=os.getloadavg()[0])  # a raw record for bench/summary.py
    print(json.dumps(out))


if __name__ == "__main__":
    main()
