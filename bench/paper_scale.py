"""Issue 19, paper scale: what `--profile full` costs for Llama-2-7B and Llama-2-13B on one GPU, from random-weight
models of their public configs (`layerprune.models.random_model`; time and memory do not depend on the weights'
values; vocabulary: the SmolLM2 tokenizer's 49,152 instead of Llama's 32,000, so every prompt is tokenized by it).

Measured per model, bf16, on one GPU:
- the one-pass angular distances over the C4 `distances`-role documents at the profile's 2,048 tokens (all of the
  role: timed whole);
- the unhealed sweep's scoring of one point: MMLU 5-shot (kv-prefix scorer) on a subset, BoolQ on a subset and the
  C4 loss on a few 2,048-token blocks, each timed; the whole test set's time is the subset's throughput (tokens the
  scorer runs per second) times the whole set's exact token count from the tokenizer (MMLU: each subject's shared
  prefix once plus every prompt's rest, as the scorer runs them; BoolQ: every prompt; C4: 128 x 2,048);
- QLoRA micro steps (NF4 built layer by layer on the GPU, LoRA on the MLP at the paper's rank, gradient
  checkpointing) at the paper's sequence length; a step is global batch 16.
The table (OUT/paper_scale.json, `table`) adds up `--profile full` (`layerprune.sweep.PROFILES["full"]`): every n in
1..L-1 for both strategies scored at (L-n)/L of the full model's time (an upper bound: the sweep's fast path shares
the layers before each cut), and 6 healed n for both strategies, each `heal_config(family, "full")` steps at (L-n)/L of the full
model's step time, then scored. The A100 estimate divides nothing it cannot: it multiplies the H200 times by the
ratio of dense BF16 tensor peaks (989 / 312 TFLOP/s, SXM datasheets: compute-bound, the same fraction of peak assumed)
and, as the optimistic end, by the memory-bandwidth ratio (4.8 / 2.04 TB/s).

    python bench/paper_scale.py --tokenizer TOK --data-dir DATA --out OUT                       # one H200
    python bench/paper_scale.py --tokenizer TOK --data-dir DATA --out OUT --tiny --device cpu --dist-len 128 \\
        --c4-len 128 --mmlu-subjects abstract_algebra,anatomy --mmlu-limit 3 --boolq-limit 8 \\
        --count-subjects abstract_algebra,anatomy,astronomy --micro-steps 2 --heal-seq-len 64  # CPU check
"""
from __future__ import annotations
import argparse, sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "gpu"))
import common as C
import torch

PEAK_RATIO_A100 = dict(compute=989 / 312, bandwidth=4.8 / 2.04)  # H200 SXM / A100 SXM: dense BF16 TFLOP/s, HBM TB/s


def scorer_tokens(items, prefix: bool) -> int:
    "Tokens the scorer runs: with the kv-prefix scorer each (subject, shots) group's common prefix once."
    from layerprune import eval as E
    if not prefix: return sum(len(it.input_ids) for it in items)
    groups = defaultdict(list)
    for it in items: groups[(it.group, it.shots)].append(it.input_ids)
    return sum(sum(map(len, g)) - (len(g) - 1) * E.common_prefix_len(g) for g in groups.values())


def whole_counts(tok, dd: Path, args, max_length: int) -> dict:
    "Exact token counts of the whole MMLU test set (5-shot, kv-prefix) and BoolQ validation with this tokenizer."
    from layerprune import data as D, eval as E
    subj = None if args.count_subjects == "all" else args.count_subjects.split(",")
    test, dev = D.load_mmlu("test", dd / "mmlu", subjects=subj), D.load_mmlu("dev", dd / "mmlu", subjects=subj)
    m_items = E.mmlu_items(tok, test, dev, 5, max_length, E.answer_token_ids(tok, E.LETTERS)[0])
    b_items = E.boolq_items(tok, D.load_boolq("validation", dd / "boolq"), max_length, E.answer_token_ids(tok, ("no", "yes"))[0])
    return dict(mmlu_questions=len(m_items), mmlu_tokens=scorer_tokens(m_items, True), mmlu_tokens_no_prefix=scorer_tokens(m_items, False),
                boolq_examples=len(b_items), boolq_tokens=scorer_tokens(b_items, False), subjects=args.count_subjects)


def measure(name: str, tok, dd: Path, args, counts: dict) -> dict:
    from layerprune import data as D, eval as E
    from layerprune.healing import heal_config
    from layerprune.models import random_model
    from layerprune.similarity import angular_distances
    dev = torch.device(args.device)
    cfg = C.random_config(name, tok, args.tiny)
    cfg._attn_implementation = "sdpa"
    L = cfg.num_hidden_layers
    C.free(); C.reset_peaks()
    model, t_build = C.timed(lambda: random_model(cfg, str(dev), torch.bfloat16, seed=0))
    r = dict(model=name, layers=L, build_s=t_build)
    batches = list(D.last_token_batches(C.c4_role(dd, "distances"), tok, args.dist_batch, args.dist_len))
    d_tokens = int(sum(b["attention_mask"].sum() for b in batches))
    _, t = C.timed(lambda: angular_distances(model, batches, progress=False))
    r["distances"] = dict(docs=sum(len(b["input_ids"]) for b in batches), tokens=d_tokens, seconds=t, tokens_per_s=round(d_tokens / t, 1))
    subj = args.mmlu_subjects.split(",")
    test, mdev = D.load_mmlu("test", dd / "mmlu", subjects=subj), D.load_mmlu("dev", dd / "mmlu", subjects=subj)
    maxlen = E.model_max_length(model)
    sub_items = E.mmlu_items(tok, E.select_mmlu(test, args.mmlu_limit, 0), mdev, 5, maxlen, E.answer_token_ids(tok, E.LETTERS)[0])
    E.mmlu_eval(model, tok, test, mdev, k=5, limit=1, batch_tokens=args.batch_tokens, progress=False)  # warm-up
    _, t = C.timed(lambda: E.mmlu_eval(model, tok, test, mdev, k=5, limit=args.mmlu_limit, batch_tokens=args.batch_tokens, progress=False))
    tps = scorer_tokens(sub_items, True) / t
    r["mmlu"] = dict(subset_questions=len(sub_items), subset_tokens=scorer_tokens(sub_items, True), subset_s=t,
                     tokens_per_s=round(tps, 1), whole_s=round(counts["mmlu_tokens"] / tps, 2))
    bq = D.load_boolq("validation", dd / "boolq")
    b_items = E.boolq_items(tok, E.select(bq, args.boolq_limit, 0), maxlen, E.answer_token_ids(tok, ("no", "yes"))[0])
    _, t = C.timed(lambda: E.boolq_eval(model, tok, bq, limit=args.boolq_limit, batch_tokens=args.batch_tokens, progress=False))
    tps = scorer_tokens(b_items, False) / t
    r["boolq"] = dict(subset_examples=len(b_items), subset_tokens=scorer_tokens(b_items, False), subset_s=t, tokens_per_s=round(tps, 1),
                      whole_s=round(counts["boolq_tokens"] / tps, 2))
    blocks = D.token_blocks(C.c4_role(dd, "loss"), tok, args.c4_blocks, args.c4_len, seed=0)
    _, t = C.timed(lambda: E.c4_loss(model, blocks, args.c4_batch, progress=False))
    from layerprune.sweep import PROFILES
    full_blocks, full_len = PROFILES["full"]["c4_blocks"], PROFILES["full"]["c4_len"]
    r["c4"] = dict(blocks=args.c4_blocks, block_len=args.c4_len, seconds=t,
                   whole_s=round(t * full_blocks * full_len / (args.c4_blocks * args.c4_len), 2))
    r["point_s"] = round(r["mmlu"]["whole_s"] + r["boolq"]["whole_s"] + r["c4"]["whole_s"], 2)
    r["memory_bf16"] = C.memory()
    del model; C.free()
    heal = heal_config(name, "full")
    seq = args.heal_seq_len or heal.seq_len
    gb = heal.global_batch
    mb = args.micro_batch or max(d for d in range(1, gb + 1) if gb % d == 0 and d <= max(1, 8192 // seq))
    q, t_q = C.timed(lambda: random_model(cfg, str(dev), torch.bfloat16, seed=0, load_in_4bit=True))
    r["qlora"] = dict(build_nf4_s=t_q, paper_steps=heal.steps, **C.qlora_microsteps(q, heal.rank, seq, mb, args.micro_steps,
                                                                                       heal.global_batch))
    del q; C.free()
    return r


def table(r: dict, L: int) -> dict:
    "Hours `--profile full` needs on this GPU, and the A100 range."
    from layerprune.sweep import PROFILES, layer_counts
    full = PROFILES["full"]
    ns = layer_counts(full["ns"], L)
    heal_ns = layer_counts(full["heal_ns"], L, "heal_ns")
    strategies = 2
    unhealed = strategies * sum((L - n) / L for n in ns) * r["point_s"]
    heal_steps = r["qlora"]["paper_steps"] * r["qlora"]["paper_step_s"]
    healing = strategies * sum((L - n) / L for n in heal_ns) * heal_steps
    healed_scoring = strategies * sum((L - n) / L for n in heal_ns) * r["point_s"]
    total = r["distances"]["seconds"] + unhealed + healing + healed_scoring
    h = lambda s: round(s / 3600, 2)
    return dict(points_unhealed=strategies * len(ns), heals=strategies * len(heal_ns), distances_h=h(r["distances"]["seconds"]),
                unhealed_sweep_h=h(unhealed), healing_h=h(healing), healed_scoring_h=h(healed_scoring), total_h=h(total),
                a100_total_h=[h(total * PEAK_RATIO_A100["bandwidth"]), h(total * PEAK_RATIO_A100["compute"])])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="llama-2-7b,llama-2-13b")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--dist-len", type=int, default=2048)
    ap.add_argument("--dist-batch", type=int, default=8)
    ap.add_argument("--mmlu-subjects", default="abstract_algebra,anatomy,astronomy,college_physics,high_school_geography,"
                                               "marketing,sociology,world_religions")
    ap.add_argument("--mmlu-limit", type=int, default=40, help="questions per subject in the timed subset")
    ap.add_argument("--boolq-limit", type=int, default=400)
    ap.add_argument("--count-subjects", default="all", help="MMLU subjects counted for the whole-set tokens (all)")
    ap.add_argument("--c4-blocks", type=int, default=16)
    ap.add_argument("--c4-len", type=int, default=2048)
    ap.add_argument("--c4-batch", type=int, default=8)
    ap.add_argument("--batch-tokens", type=int, default=65536, help="the full profile's")
    ap.add_argument("--heal-seq-len", type=int, default=0, help="0: the paper's (7B 2048, 13B 4096)")
    ap.add_argument("--micro-batch", type=int, default=0, help="0: 8192 tokens a micro step")
    ap.add_argument("--micro-steps", type=int, default=4)
    args = ap.parse_args(argv)
    from layerprune.models import load_tokenizer
    from layerprune.sweep import PROFILES
    dev = torch.device(args.device)
    if dev.type == "cuda":
        if not torch.cuda.is_available(): sys.exit("No CUDA device: pass --tiny --device cpu for the CPU check.")
        torch.cuda.set_device(dev)
    tok = load_tokenizer(args.tokenizer)
    dd = Path(args.data_dir)
    counts, t_count = C.timed(lambda: whole_counts(tok, dd, args, 4096))
    summary = dict(run="issue 19: paper scale", device=str(dev), vocab_note="SmolLM2 tokenizer (49,152), not Llama's 32,000",
                   whole_set_counts=dict(counts, seconds=t_count), profile_full=PROFILES["full"], a100_ratios=PEAK_RATIO_A100,
                   scaling_note=("whole-set scoring = subset throughput x exact whole-set tokens; a point with n removed costs "
                                 "(L-n)/L of the full model; A100 = H200 x [bandwidth ratio, compute ratio]"),
                   models={}, table={})
    for name in args.models.split(","):
        r = measure(name, tok, dd, args, counts)
        summary["models"][name] = r
        summary["table"][name] = table(r, r["layers"])
        print(name, summary["table"][name], file=sys.stderr, flush=True)
    C.finish(summary, args.out, "paper_scale")


if __name__ == "__main__":
    main()
