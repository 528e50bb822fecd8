"""P3 addendum: forward passes and seconds of the kv-prefix MMLU scorer, and its agreement with the slow reference.

Two modes:
- default: score `--per-subject` questions of `--subjects` (5-shot, float32) with `eval.prefix_candidate_logits`,
  counting the model's forward passes with a hook, and compare with `eval.reference_candidate_logits`. To measure
  an older version of the scorer, run this file with that version of the package first on the path:
  `git worktree add /tmp/old COMMIT; PYTHONPATH=/tmp/old python bench/eval_passes.py ...`.
- `--whole-test-set`: tokenize all 14,042 prompts (timed) and count, from their lengths, the forward passes of the
  current batching and of the rule before commit 2a21b59 (groups whose longest prompt reaches the sliding window
  batched by exactly equal length).

    python bench/eval_passes.py --model gemma3-270m --threads 1
    python bench/eval_passes.py --model gemma3-270m --whole-test-set
"""
import argparse, json, os, sys, time
from collections import defaultdict
from pathlib import Path

import torch

if not os.environ.get("PYTHONPATH"): sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from layerprune import eval as ev  # noqa: E402
from layerprune import scoring as sc  # noqa: E402
from layerprune.data import load_mmlu  # noqa: E402
from layerprune.models import load_model, load_tokenizer  # noqa: E402
from layerprune.zoo import resolve_model  # noqa: E402

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--model", default="gemma3-270m", help="zoo key, hub id or checkpoint directory")
p.add_argument("--mmlu", default=os.path.join(os.environ.get("LAYERPRUNE_DATA", "../shared/data"), "mmlu"))
p.add_argument("--subjects", default="anatomy,high_school_physics,college_biology")
p.add_argument("--per-subject", type=int, default=20)
p.add_argument("--batch-tokens", type=int, default=8192)
p.add_argument("--threads", type=int, default=None)
p.add_argument("--whole-test-set", action="store_true")
a = p.parse_args()
if a.threads: torch.set_num_threads(a.threads)
src = resolve_model(a.model)
tok = load_tokenizer(src)

if a.whole_test_set:
    window = sc.sliding_window(load_model(src))
    t = time.perf_counter()
    items = ev.mmlu_items(tok, load_mmlu("test", a.mmlu), load_mmlu("dev", a.mmlu), k=5)
    t_tok = time.perf_counter() - t
    groups = defaultdict(list)
    for it in items: groups[it.group].append(it.input_ids)
    r = dict(model=a.model, window=window, prompts=len(items), tokenize_s=round(t_tok, 1), prefix_passes=len(groups),
             groups_reaching_window=0, question_passes_now=0, question_passes_before=0, mean_len=round(sum(map(len, (it.input_ids for it in items))) / len(items), 1))
    r.update(question_tokens_now=0, question_tokens_before=0,
             prompts_over_window=sum(window is not None and len(it.input_ids) > window for it in items))
    for seqs in groups.values():
        L = [len(s) for s in seqs]
        p = min(sc.common_prefix_len(seqs), min(L) - 1)
        width = lambda b: len(b) * (max(L[j] for j in b) - p)  # tokens a pass computes after the cached prefix
        now = sc.length_batches(L, a.batch_tokens)
        before = now
        if window is not None and max(L) >= window:  # the old rule: one batch per distinct length, rows within the budget
            r["groups_reaching_window"] += 1
            rows, by_len = max(1, a.batch_tokens // max(L)), defaultdict(list)
            for j, n in enumerate(L): by_len[n].append(j)
            before = [js[k:k + rows] for js in by_len.values() for k in range(0, len(js), rows)]
        r["question_passes_now"] += len(now); r["question_passes_before"] += len(before)
        r["question_tokens_now"] += sum(map(width, now)); r["question_tokens_before"] += sum(map(width, before))
    print(json.dumps(r, indent=1)); sys.exit()

model = load_model(src)
subjects = a.subjects.split(",")
items = ev.mmlu_items(tok, ev.select_mmlu(load_mmlu("test", a.mmlu, subjects=subjects), a.per_subject),
                      load_mmlu("dev", a.mmlu, subjects=subjects), k=5, max_length=ev.model_max_length(model))
shapes = []
hook = model.register_forward_pre_hook(lambda m, args, kw: shapes.append(tuple(kw["input_ids"].shape)), with_kwargs=True)
t = time.perf_counter(); fast = sc.prefix_candidate_logits(model, items, a.batch_tokens, progress=False); secs = time.perf_counter() - t
hook.remove()
ref = sc.reference_candidate_logits(model, items)
print(json.dumps(dict(model=a.model, window=sc.sliding_window(model), threads=torch.get_num_threads(), items=len(items),
                      forward_passes=len(shapes), tokens_computed=sum(r * c for r, c in shapes), seconds=round(secs, 1),
                      max_abs_diff_vs_reference=float((fast - ref).abs().max()),
                      same_predictions=bool((fast.argmax(1) == ref.argmax(1)).all())), indent=1))
