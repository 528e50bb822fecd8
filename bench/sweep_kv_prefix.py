"""P2 addendum: MMLU scoring of many pruned variants, whole prompts vs each subject's cached 5-shot prefix.

`scoring.variants_candidate_logits` runs every whole prompt through the shared layers and each variant's layers;
`scoring.variants_prefix_candidate_logits` runs each subject's prefix once per variant (from its cut) and only the
questions against that cache. Same model, same items, same variants; reports seconds, the speed-up, the largest
logit difference and whether the predictions agree.

    python bench/sweep_kv_prefix.py --per-subject 12 --threads 1
"""
import argparse, json, os, sys, time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from layerprune import eval as ev  # noqa: E402
from layerprune.data import load_mmlu  # noqa: E402
from layerprune.models import load_model, load_tokenizer  # noqa: E402
from layerprune.scoring import variants_candidate_logits, variants_prefix_candidate_logits  # noqa: E402
from layerprune.zoo import resolve_model  # noqa: E402

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--model", default="smollm2-135m", help="zoo key, hub id or checkpoint directory")
p.add_argument("--mmlu", default=os.path.join(os.environ.get("LAYERPRUNE_DATA", "../shared/data"), "mmlu"))
p.add_argument("--subjects", default="marketing,sociology")
p.add_argument("--per-subject", type=int, default=12, help="test questions per subject (the first ones)")
p.add_argument("--variants", default="26:3,23:6,20:9,10:7", help="start:n of each variant")
p.add_argument("--device", default="cpu")
p.add_argument("--dtype", default="float32")
p.add_argument("--batch-tokens", type=int, default=8192)
p.add_argument("--threads", type=int, default=None)
a = p.parse_args()
if a.threads: torch.set_num_threads(a.threads)

src = resolve_model(a.model)
model, tok = load_model(src, dtype=getattr(torch, a.dtype), device_map=a.device if a.device != "cpu" else None), load_tokenizer(src)
subjects = a.subjects.split(",")
by = defaultdict(list)
for q in load_mmlu("test", a.mmlu, subjects=subjects): by[q.subject].append(q)
items = ev.mmlu_items(tok, [q for s in subjects for q in by[s][:a.per_subject]], list(load_mmlu("dev", a.mmlu, subjects=subjects)), 5, 8192)
variants = [tuple(int(x) for x in v.split(":")) for v in a.variants.split(",")]
t = time.perf_counter(); whole = variants_candidate_logits(model, items, variants, a.batch_tokens, progress=False); t_whole = time.perf_counter() - t
t = time.perf_counter(); kv = variants_prefix_candidate_logits(model, items, variants, a.batch_tokens, progress=False); t_kv = time.perf_counter() - t
print(json.dumps(dict(model=a.model, device=a.device, dtype=a.dtype, threads=torch.get_num_threads(), items=len(items),
                      subjects=subjects, variants=variants, tokens_whole_prompts=sum(len(it.input_ids) for it in items),
                      whole_prompts_s=round(t_whole, 2), kv_prefix_s=round(t_kv, 2), speedup=round(t_whole / t_kv, 2),
                      max_abs_logit_diff=max((whole[v] - kv[v]).abs().max().item() for v in whole),
                      same_predictions=all(bool((whole[v].argmax(1) == kv[v].argmax(1)).all()) for v in whole)), indent=1))
