"""P2: the unhealed sweep's shared-prefix fast path against the naive per-variant loop (issue 6).

For one model and each strategy, the same scoring work (MMLU 5-shot candidate logits on a fixed subset of
questions) is done three ways:
  naive  - for each variant: prune a copy by surgery, score it (eval.candidate_logits);
  fast   - scoring.variants_candidate_logits: one full pass per batch, then each variant from its cut;
  floor  - what the fast path cannot beat: one full pass + for each variant the layers after its cut,
           estimated as t_full * (1 + sum_v (L - start_v - n_v) / L) from the measured full pass t_full.
Goals: fast <= 1.2 x floor; for the deepest strategy naive / fast >= 4.

    python bench/sweep.py --model smollm2-135m --subjects 4 --limit 4 --device cpu
"""
import argparse, json, platform, statistics, time
from pathlib import Path

import torch

from layerprune import data as D, eval as ev, scoring as sc
from layerprune.models import load_model, load_tokenizer
from layerprune.similarity import angular_distances, block_start
from layerprune.surgery import prune_block
from layerprune.scoring import variants_candidate_logits
from layerprune.zoo import resolve_model


def timed(f):
    t = time.perf_counter(); out = f(); return time.perf_counter() - t, out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--subjects", type=int, default=4, help="MMLU subjects (first N alphabetically)")
    p.add_argument("--limit", type=int, default=4, help="questions per subject")
    p.add_argument("--ns", default="3,6,9,12,15,18,21,24,27", help="block sizes")
    p.add_argument("--batch-tokens", type=int, default=8192)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out", default=None, help="write the numbers as JSON here")
    a = p.parse_args()
    torch.manual_seed(0)
    src = resolve_model(a.model)
    model = load_model(src, dtype=getattr(torch, a.dtype), device_map=a.device if a.device != "cpu" else None)
    tok = load_tokenizer(src)
    L = model.config.num_hidden_layers
    subjects = D.MMLU_SUBJECTS[:a.subjects]
    qs = ev.select_mmlu(D.load_mmlu("test", subjects=subjects), a.limit)
    items = ev.mmlu_items(tok, qs, D.load_mmlu("dev", subjects=subjects), 5, ev.model_max_length(model))
    docs = D.split_documents(D.load_c4("validation"))["distances"][:16]
    dist = angular_distances(model, D.last_token_batches(docs, tok, 8, 256), progress=False)
    ns = [int(x) for x in a.ns.split(",") if int(x) < L]
    rows = []
    sc.candidate_logits(model, items, a.batch_tokens, progress=False)  # warm-up (kernels, allocator), not timed
    for strategy in ("deepest", "similarity"):
        variants = sorted({(block_start(strategy, n, dist, L), n) for n in ns})
        t_full = statistics.median(timed(lambda: sc.candidate_logits(model, items, a.batch_tokens, progress=False))[0] for _ in range(a.repeats))
        floor = t_full * (1 + sum((L - s - n) / L for s, n in variants))
        t_fast, fast = min((timed(lambda: variants_candidate_logits(model, items, variants, a.batch_tokens, progress=False)) for _ in range(a.repeats)), key=lambda x: x[0])
        def naive():
            return {v: sc.candidate_logits(prune_block(model, *v), items, a.batch_tokens, progress=False) for v in variants}
        t_naive, slow = timed(naive)
        t_naive += t_full  # the naive loop also scores the unpruned model
        same = all(torch.equal(fast[v].argmax(1), slow[v].argmax(1)) for v in variants)
        maxdiff = max((fast[v] - slow[v]).abs().max().item() for v in variants)
        rows.append(dict(strategy=strategy, variants=len(variants), items=len(items), t_full=t_full, floor=floor,
                         fast=t_fast, naive=t_naive, fast_over_floor=t_fast / floor, naive_over_fast=t_naive / t_fast,
                         same_predictions=same, max_abs_logit_diff=maxdiff))
    env = dict(model=a.model, L=L, device=a.device, dtype=a.dtype, torch=torch.__version__, threads=torch.get_num_threads(),
               machine=platform.machine(), cpu=platform.processor() or platform.machine())
    print(json.dumps(env))
    print("| strategy | variants | items | full pass s | floor s | fast s | naive s | fast/floor | naive/fast | same predictions |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['strategy']} | {r['variants']} | {r['items']} | {r['t_full']:.1f} | {r['floor']:.1f} | {r['fast']:.1f} | "
              f"{r['naive']:.1f} | {r['fast_over_floor']:.2f} | {r['naive_over_fast']:.1f} | {r['same_predictions']} |")
    if a.out: Path(a.out).write_text(json.dumps(dict(env=env, rows=rows), indent=1))


if __name__ == "__main__":
    main()
