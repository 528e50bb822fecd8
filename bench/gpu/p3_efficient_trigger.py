"""What makes memory-efficient attention wrong on Gemma-3-270M's MMLU scoring (issue 19, P3;
`p3_backends_gemma3-270m.json`: under the scorers of commit 0a1dc88, 184 answers more than 0.5 nat from float32's).

transformers repeats a one-key/value-head model's keys and values for attention as views whose head stride is 0. Two
scorings of the whole test set in bf16 under `p3_backends.SETS["no_cudnn"]`, against the float32 math reference:
as the model runs, and with every key and value made contiguous before attention. Then each masked attention call
of one more such scoring, recomputed three ways on the same inputs: memory-efficient attention as passed,
memory-efficient attention on contiguous keys and values, and float32 math attention (the reference); the largest
output difference of each, with the call's shapes, strides and mask.

    OUT=... LP_DATA=... MODEL=... python3 bench/gpu/p3_efficient_trigger.py   # writes $OUT/efficient_trigger.json
    LIMIT=2 SUBJECTS=anatomy DEV=cpu MODEL=$HOME/.cache/layerprune/models/smollm2-135m LP_DATA=../shared/data \
        OUT=/tmp/t python bench/gpu/p3_efficient_trigger.py   # the mechanics only: the CPU has no memory-efficient kernel
"""
import json, os, sys
from collections import Counter
from contextlib import contextmanager, nullcontext
from pathlib import Path
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend as B, sdpa_kernel
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import eval as bev
import p3_backends as pb
from layerprune.models import load_model

WRONG = (0.05, 0.25, 1.0)  # largest |output difference| from float32 math that counts a call as wrong (bf16 rounding
# alone reaches ~0.3 where Gemma's attention outputs are large: 1.0 is the threshold that separates)


@contextmanager
def attention_through(fn):
    "Every `F.scaled_dot_product_attention` call (transformers looks it up at each call) goes through `fn(sdpa, *a, **kw)`."
    sdpa = F.scaled_dot_product_attention
    F.scaled_dot_product_attention = lambda *a, **kw: fn(sdpa, *a, **kw)
    try: yield
    finally: F.scaled_dot_product_attention = sdpa


def contiguous_kv(sdpa, q, k, v, *a, **kw):
    "Attention as called, with keys and values copied into contiguous tensors (no stride-0 heads)."
    return sdpa(q, k.contiguous(), v.contiguous(), *a, **kw)


def describe(q, k, mask) -> dict:
    "The shapes, strides and mask of one attention call."
    return dict(q=list(q.shape), kv_len=k.shape[2], kv_len_mod32=k.shape[2] % 32, k_stride=list(k.stride()),
                head_stride_0=k.stride(1) == 0 and k.shape[1] > 1, mask_dtype=str(mask.dtype).removeprefix("torch."),
                mask_shape=list(mask.shape), mask_stride=list(mask.stride()))


def probe(calls: list[dict]):
    "An `attention_through` function: each masked call recomputed three ways (module docstring) into `calls`."
    def fn(sdpa, q, k, v, attn_mask=None, *a, **kw):
        out = sdpa(q, k, v, attn_mask, *a, **kw)
        if attn_mask is None or kw.get("enable_gqa"): return out
        with sdpa_kernel([B.MATH]):  # a float mask is cast with the inputs; a boolean one stays boolean
            ref = sdpa(q.float(), k.float(), v.float(), attn_mask if attn_mask.dtype == torch.bool else attn_mask.float(), *a, **kw)
        row = describe(q, k, attn_mask)
        for name, kv in (("efficient", (k, v)), ("efficient_contiguous", (k.contiguous(), v.contiguous()))):
            try:
                with sdpa_kernel([B.EFFICIENT_ATTENTION]): got = sdpa(q, *kv, attn_mask, *a, **kw)
                row[name] = float((got.float() - ref).abs().max())
            except RuntimeError as e: row[name] = f"refused: {str(e).splitlines()[0][:120]}"
        calls.append(row)
        return out
    return fn


def wrong_calls(calls: list[dict], key: str) -> dict:
    "How many calls are wrong under `key` at each threshold, split by stride-0 heads."
    diffs = [(c[key], c["head_stride_0"]) for c in calls if isinstance(c[key], float)]
    return {str(t): dict(stride_0=sum(d > t and s for d, s in diffs), contiguous=sum(d > t and not s for d, s in diffs))
            for t in WRONG} | dict(refused=sum(not isinstance(c[key], float) for c in calls))


def main():
    data, model_dir, out = Path(os.environ["LP_DATA"]), os.environ["MODEL"], Path(os.environ.get("OUT", "."))
    dev, limit = os.environ.get("DEV", "cuda"), int(os.environ.get("LIMIT", "0")) or None
    subjects = os.environ["SUBJECTS"].split(",") if os.environ.get("SUBJECTS") else bev.all_subjects(data)
    out.mkdir(parents=True, exist_ok=True)
    items = pb.mmlu_items(model_dir, data, limit, subjects)
    subject = [it.group for it in items]
    res = dict(model=Path(model_dir).name, n=len(items), limit=limit, subjects=len(subjects) if len(subjects) > 3 else subjects,
               device=torch.cuda.get_device_name(0) if dev.startswith("cuda") else dev, far_nats=pb.FAR, torch=torch.__version__,
               backends=[b.name for b in pb.SETS["no_cudnn"]])
    save = lambda: (out / "efficient_trigger.json").write_text(json.dumps(res, indent=1))  # after every step
    ref, _ = pb.scored(load_model(model_dir, dtype=torch.float32, device_map=dev), items, pb.SETS["math"], batch_tokens=65536, progress=False)
    model = load_model(model_dir, dtype=torch.bfloat16, device_map=dev)
    for name, through in (("as_run", None), ("contiguous_kv", contiguous_kv)):
        with attention_through(through) if through else nullcontext():
            logits, secs = pb.scored(model, items, pb.SETS["no_cudnn"], batch_tokens=65536, progress=False)
        far = pb.far_from(ref, logits)
        res[name] = dict(seconds=secs, far=int(far.sum()), max_gap=float(bev.answer_gaps(ref, logits).max()),
                         far_by_subject=dict(Counter(subject[i] for i in far.nonzero().flatten().tolist())))
        print(name, res[name], flush=True); save()
    calls: list[dict] = []
    with attention_through(probe(calls)):
        pb.scored(model, items, pb.SETS["no_cudnn"], batch_tokens=65536, progress=False)
    res["calls"] = dict(masked=len(calls), stride_0=sum(c["head_stride_0"] for c in calls),
                        wrong_efficient=wrong_calls(calls, "efficient"), wrong_efficient_contiguous=wrong_calls(calls, "efficient_contiguous"))
    worst = sorted((c for c in calls if isinstance(c["efficient"], float)), key=lambda c: -c["efficient"])
    res["worst_calls"] = worst[:8]
    print(json.dumps(res, indent=1)); save()


if __name__ == "__main__":
    main()
