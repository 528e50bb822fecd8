"""Where `eval.mmlu_eval`'s fixed cost goes: data, tokenization, scoring passes, with a model small enough to hide.

A tiny random Llama (2 layers, hidden 64, SDPA) with a real tokenizer's vocabulary, so that the model work is
negligible and what is left is the scorer's fixed cost; or a real checkpoint with --model. Times each stage
(wall and process CPU seconds, best of --repeats) and counts forward passes and the tokens they compute.
Run it on another version of the package with PYTHONPATH=<its tree> to compare (bench/RESULTS.md, P3).

    python bench/eval_overhead.py --limit 20 --threads 1 --out bench/eval-results/overhead_smollm2tok_20.json
"""
from __future__ import annotations
import argparse, json, os, platform, sys, time
from pathlib import Path

import torch

sys.path.insert(0, os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or str(Path(__file__).resolve().parents[1]))
from layerprune import eval as ev  # noqa: E402
from layerprune import scoring as sc  # noqa: E402
from layerprune.data import load_mmlu  # noqa: E402
from layerprune.models import load_model, load_tokenizer, tiny_model  # noqa: E402


def clock(fn, repeats: int):
    "fn's result and its best (wall, CPU) seconds over `repeats` runs."
    best = None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        t = (time.perf_counter() - w, time.process_time() - c)
        best = t if best is None or t[1] < best[1] else best
    return out, dict(wall_s=round(best[0], 3), cpu_s=round(best[1], 3))


def _commit() -> str:
    "The git commit of the package imported (its folder's repository), or 'unknown'."
    import subprocess
    r = subprocess.run(["git", "-C", str(Path(ev.__file__).parent), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", default=str(Path.home() / ".cache/layerprune/models/smollm2-135m"))
    p.add_argument("--model", default=None, help="a checkpoint (default: tiny random Llama with the tokenizer's vocabulary)")
    p.add_argument("--limit", type=int, default=20, help="questions per subject, all 57 subjects")
    p.add_argument("--batch-tokens", type=int, default=65536)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", default=None)
    p.add_argument("--label", default=None, help="which version of the package this is (default: its git commit)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    (test, dev), t_data = clock(lambda: (load_mmlu("test"), load_mmlu("dev")), 1)
    tok = load_tokenizer(a.tokenizer)
    if a.model: model = load_model(a.model)
    else:
        model = tiny_model("llama", 2, vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_attention_heads=4,
                           num_key_value_heads=2, max_position_embeddings=8192)
        model.set_attn_implementation("sdpa")
    qs = ev.select_mmlu(test, a.limit, 0)
    items, t_items = clock(lambda: ev.mmlu_items(tok, qs, dev, 5, ev.model_max_length(model)), a.repeats)
    calls = []
    hook = model.register_forward_pre_hook(lambda *x: calls.append(1))
    logits, t_score = clock(lambda: sc.prefix_candidate_logits(model, items, a.batch_tokens, progress=False), a.repeats)
    hook.remove()
    res, t_eval = clock(lambda: ev.mmlu_eval(model, tok, qs, dev, batch_tokens=a.batch_tokens, progress=False), a.repeats)
    assert res.predictions == logits.argmax(1).tolist()
    out = dict(command=" ".join(["python", *sys.argv]).replace(str(Path.home()), "~"), package=a.label or _commit(),
               machine=platform.processor() or platform.machine(), cores=os.cpu_count(), load_1min=os.getloadavg()[0], threads=a.threads,
               model=Path(a.model).name if a.model else "tiny llama (2 x 64, sdpa)", tokenizer=Path(a.tokenizer).name,
               questions=len(qs), batch_tokens=a.batch_tokens, forward_passes=len(calls) // a.repeats,
               seconds=dict(data_load=t_data, items=t_items, scoring=t_score, mmlu_eval=t_eval))
    print(json.dumps(out, indent=1))
    if a.out: Path(a.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
