"""Which attention backend changes the MMLU scorer's answers (issue 19, P3): the whole test set scored by
`scoring.prefix_candidate_logits` under each ordered set of SDPA backends, in bf16, against the same scoring in float32 with
the math backend (the reference); then the questions where a bf16 set is far from the reference, scored one prompt at
a time without padding (`scoring.reference_candidate_logits`, lm-eval's way) in bf16 with every backend allowed.

    OUT=... LP_DATA=... MODEL=... python3 bench/gpu/p3_backends.py   # writes $OUT/backends.json after every step
    SUBJECTS=high_school_european_history LIMIT=12 DEV=cpu MODEL=$HOME/.cache/layerprune/models/gemma3-270m \
        LP_DATA=../shared/data OUT=/tmp/b python bench/gpu/p3_backends.py      # bench/eval-results/backends_*_cpu_*.json
    LIMIT=2 MODEL=$HOME/.cache/layerprune/models/smollm2-135m LP_DATA=../shared/data DEV=cpu python bench/gpu/p3_backends.py

`stride0_check` times nothing: it reproduces pytorch/pytorch#191937 on the machine, or shows it absent.
"""
import json, os, sys, time
from collections import Counter
from pathlib import Path
import torch
from torch.nn.attention import SDPBackend as B
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import eval as bev
from layerprune import eval as ev, scoring as sc
from layerprune.models import load_model, load_tokenizer

SETS = {  # each tried in its order
    "scorers": None,  # the library's for the model (`scoring.scoring_backends`)
    "no_cudnn": (B.FLASH_ATTENTION, B.EFFICIENT_ATTENTION, B.MATH),  # the scorers of commit 0a1dc88
    "cudnn_first": (B.CUDNN_ATTENTION, B.FLASH_ATTENTION, B.EFFICIENT_ATTENTION, B.MATH),  # PyTorch 2.11's own on an H200
    "math": (B.MATH,)}
FAR = bev.NEAR_TIE_NATS[-1]  # nats: a bf16 answer this far from the reference's is not a near-tie


def mmlu_items(model_dir: str, data: Path, limit: int | None, subjects: list[str]):
    "The test set's scoring items (`limit` a subject, None: all) of `subjects`, in bench/eval.py's order."
    test = ev.select_mmlu([q for s in subjects for q in bev.read_mmlu(data, "test", s)], limit, 0)
    dev = [q for s in subjects for q in bev.read_mmlu(data, "dev", s)]
    return ev.mmlu_items(load_tokenizer(model_dir), test, dev, 5, None)


def scored(model, items, backends, **kw) -> tuple[torch.Tensor, float]:
    "`scoring.prefix_candidate_logits` of `items` trying `backends` in order (None: the library's), and its seconds."
    saved = sc.scoring_backends
    if backends is not None: sc.scoring_backends = lambda model: backends  # `scoring_attention` looks it up at each call
    try:
        t = time.perf_counter()
        out = sc.prefix_candidate_logits(model, items, **kw)
        if torch.cuda.is_available(): torch.cuda.synchronize()
        return out.float(), time.perf_counter() - t
    finally: sc.scoring_backends = saved


def stride0_check(dev: str, heads: int = 4, head_dim: int = 256) -> dict:
    "pytorch/pytorch#191937 on this machine: memory-efficient against math attention, bf16 keys and values repeated\n    from one head with stride 0 (as transformers passes a one-key/value-head model's), a boolean causal mask, at key\n    lengths of 1 and 2 mod 32: the largest output difference of each."
    if not dev.startswith("cuda"): return dict(skipped="memory-efficient attention is CUDA's")
    out, g = {}, torch.Generator(device=dev).manual_seed(0)
    for n_kv in (449, 450):  # 1 and 2 mod 32
        q = torch.randn(3, heads, 64, head_dim, device=dev, dtype=torch.bfloat16, generator=g)
        k, v = (torch.randn(3, 1, n_kv, head_dim, device=dev, dtype=torch.bfloat16, generator=g).expand(3, heads, n_kv, head_dim)
                for _ in range(2))
        mask = (torch.arange(n_kv, device=dev)[None, :] <= torch.arange(n_kv - 64, n_kv, device=dev)[:, None])[None, None].expand(3, 1, 64, n_kv)
        got = {}
        for name, b in (("efficient", B.EFFICIENT_ATTENTION), ("math", B.MATH)):
            with torch.nn.attention.sdpa_kernel([b]): got[name] = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask).float()
        out[f"kv_{n_kv}_mod32_{n_kv % 32}"] = float((got["efficient"] - got["math"]).abs().max())
    return out


def far_from(ref: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    "Rows whose answer differs from the reference's by more than FAR nats (not a near-tie)."
    return bev.answer_gaps(ref, x) > FAR


def main():
    data, model_dir, out = Path(os.environ["LP_DATA"]), os.environ["MODEL"], Path(os.environ.get("OUT", "."))
    dev, limit = os.environ.get("DEV", "cuda"), int(os.environ.get("LIMIT", "0")) or None
    subjects = os.environ["SUBJECTS"].split(",") if os.environ.get("SUBJECTS") else bev.all_subjects(data)
    out.mkdir(parents=True, exist_ok=True)
    items = mmlu_items(model_dir, data, limit, subjects)
    res = dict(model=Path(model_dir).name, n=len(items), limit=limit, subjects=len(subjects) if len(subjects) > 3 else subjects,
               device=torch.cuda.get_device_name(0) if dev.startswith("cuda") else dev, far_nats=FAR, torch=torch.__version__)
    logits = {}
    save = lambda: (out / "backends.json").write_text(json.dumps(res, indent=1))  # after every step: nothing finished is lost
    model = load_model(model_dir, dtype=torch.float32, device_map=dev)
    logits["float32/math"], secs = scored(model, items, SETS["math"], batch_tokens=65536, progress=False)
    res["float32/math"] = dict(seconds=secs); save()
    model = load_model(model_dir, dtype=torch.bfloat16, device_map=dev)
    res["window"], res["backends_for_model"] = sc.sliding_window(model), [b.name for b in sc.scoring_backends(model)]
    res["stride0_check"] = stride0_check(dev); save()
    ref, subject = logits["float32/math"], [it.group for it in items]
    for name, backends in SETS.items():
        logits[name], secs = scored(model, items, backends, batch_tokens=65536, progress=False)
        far = far_from(ref, logits[name])
        res[f"bfloat16/{name}"] = dict(seconds=secs, agree=float((logits[name].argmax(1) == ref.argmax(1)).float().mean()),
                                       max_logit_diff=float((logits[name] - ref).abs().max()), max_gap=float(bev.answer_gaps(ref, logits[name]).max()), far=int(far.sum()),
                                       far_by_subject=dict(Counter(subject[i] for i in far.nonzero().flatten().tolist())))
        print(name, res[f"bfloat16/{name}"], flush=True); save()
    rows = sorted({int(i) for name in SETS for i in far_from(ref, logits[name]).nonzero().flatten()})[:200]
    if rows:  # lm-eval's way on the far questions: one unpadded prompt at a time, every backend allowed (cuDNN first on an H200)
        one = sc.reference_candidate_logits(model, [items[i] for i in rows]).float()
        res["one_at_a_time"] = dict(rows=len(rows), far_from_reference=int(far_from(ref[rows], one).sum()),
                                    agrees_with={name: float((one.argmax(1) == logits[name][rows].argmax(1)).float().mean()) for name in SETS})
        logits["one_at_a_time"] = one
    save(); torch.save(dict(logits=logits, rows=rows), out / "backends_logits.pt")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
