"""Which attention backend changes the MMLU scorer's answers: the whole test set scored with each SDPA backend set.
    OUT=... LP_DATA=... MODEL=... python3 bench/gpu/p3_backends.py   (writes $OUT/backends.json)"""
import json, os, sys, time
from pathlib import Path
import torch
from torch.nn.attention import SDPBackend as B
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import eval as bev
from layerprune import eval as ev, scoring as sc
from layerprune.models import load_model, load_tokenizer

data, model_dir, out = Path(os.environ["LP_DATA"]), os.environ["MODEL"], Path(os.environ.get("OUT", "."))
subs = bev.all_subjects(data)
test = ev.select_mmlu([q for s in subs for q in bev.read_mmlu(data, "test", s)], None, 0)
dev = [q for s in subs for q in bev.read_mmlu(data, "dev", s)]
tok = load_tokenizer(model_dir)
items = ev.mmlu_items(tok, test, dev, 5, None)
res, logits = dict(n=len(items)), {}
for dtype in ("bfloat16", "float32"):
    model = load_model(model_dir, dtype=getattr(torch, dtype), device_map="cuda")
    win = sc.sliding_window(model); res["window"] = win
    for name, backends in (("no_cudnn", (B.FLASH_ATTENTION, B.EFFICIENT_ATTENTION, B.MATH)), ("with_cudnn", (B.CUDNN_ATTENTION, B.FLASH_ATTENTION, B.EFFICIENT_ATTENTION, B.MATH)),
                           ("efficient", (B.EFFICIENT_ATTENTION,)), ("math", (B.MATH,))):
        if dtype == "float32" and name != "math": continue
        sc.SCORING_SDPA_BACKENDS = backends
        t = time.perf_counter()
        for prefix in (True, False):
            key = f"{dtype}/{name}/{'prefix' if prefix else 'whole'}"
            if not prefix and name not in ("no_cudnn", "math"): continue
            f = sc.prefix_candidate_logits if prefix else sc.candidate_logits
            try: logits[key] = f(model, items, 65536, progress=False).float()
            except RuntimeError as e: res[key] = dict(error=str(e)[:200]); print(key, res[key], flush=True); continue
            res[key] = dict(seconds=time.perf_counter() - t, nan_rows=int(torch.isnan(logits[key]).any(1).sum()))
            print(key, res[key], flush=True)
    del model; torch.cuda.empty_cache()
ref = logits["float32/math/prefix"]
long_ = torch.tensor([len(it.input_ids) > (win or 10**9) for it in items])
labels = torch.tensor([it.label for it in items])
for key, l in logits.items():  # every scoring that ran
    diff = (l - ref).abs().max(1).values
    res[key] |= dict(acc=float((l.argmax(1) == labels).float().mean()), agree_f32_math=float((l.argmax(1) == ref.argmax(1)).float().mean()),
                     max_abs_diff=float(diff.nan_to_num(1e9).max()), rows_diff_gt_1=int((diff.nan_to_num(1e9) > 1).sum()),
                     rows_diff_gt_1_long=int(((diff.nan_to_num(1e9) > 1) & long_).sum()), n_long=int(long_.sum()))
print(json.dumps(res, indent=1)); out.mkdir(parents=True, exist_ok=True); (out / "backends.json").write_text(json.dumps(res, indent=1))
