"""P3 diagnostic: the first pass of the MMLU scorer against the same scoring again, stage by stage, on random weights of
Qwen-1.5B's shape with the SmolLM2 tokenizer (no model to carry). Writes $OUT/gap.json after each stage (seconds: model
build, items and scoring cold, then scoring, the whole mmlu_eval and items again, warm) and $OUT/cold_score_prof.txt
(cProfile of the cold scoring, by own time).

On the device, as run on 2026-12-01 (records in bench/gpu/results/h200_2026-12-01/p3_first_pass_*):
    eval "$(bash bench/gpu/lease.sh env)"; python3 bench/gpu/p3_first_pass.py
CPU check at a tiny budget (one question a subject):
    OUT=/tmp/o LP_DATA=../shared/data LP_TOK=.gpu/tok LP_BASE=.gpu LIMIT=1 DEV=cpu python bench/gpu/p3_first_pass.py

Settings come from the environment, as lease.sh's `env` sets them: OUT, LP_DATA, LP_TOK, LP_BASE; LIMIT (questions a
subject, 0: all) and DEV (default cuda) are optional.
"""
import cProfile, io, json, os, pstats, sys
from pathlib import Path
from transformers import AutoConfig
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import eval as be
from layerprune import eval as ev, scoring as sc
from layerprune.models import load_tokenizer, random_model


def main():
    out, data = Path(os.environ["OUT"]), Path(os.environ["LP_DATA"])
    rec = {}
    def note(k, v):  # after each stage: nothing finished is lost
        rec[k] = v; print(k, v, flush=True); (out / "gap.json").write_text(json.dumps(rec, indent=1))
    subjects = be.all_subjects(data)
    test = ev.select_mmlu([q for s in subjects for q in be.read_mmlu(data, "test", s)], int(os.environ.get("LIMIT", 0)) or None, 0)
    dev = [q for s in subjects for q in be.read_mmlu(data, "dev", s)]
    tok = load_tokenizer(os.environ["LP_TOK"])
    cfg = AutoConfig.from_pretrained(os.environ["LP_BASE"] + "/shapes/qwen2.5-coder-1.5b")
    model, w, _ = be.timed(random_model, cfg, device_map=os.environ.get("DEV", "cuda")); note("build_s", w)
    be.warmup(model)
    ml = ev.model_max_length(model); aid = ev.answer_token_ids(tok, ev.LETTERS)[0]
    items, w, _ = be.timed(ev.mmlu_items, tok, test, dev, 5, ml, aid); note("cold_items_s", w)
    pr = cProfile.Profile(); pr.enable()
    _, w, _ = be.timed(sc.prefix_candidate_logits, model, items, 65536, progress=False); pr.disable(); note("cold_score_s", w)
    s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(30); (out / "cold_score_prof.txt").write_text(s.getvalue())
    _, w, _ = be.timed(sc.prefix_candidate_logits, model, items, 65536, progress=False); note("warm_score_s", w)
    _, w, _ = be.timed(ev.mmlu_eval, model, tok, test, dev, k=5, batch_tokens=65536, progress=False); note("warm_mmlu_eval_s", w)
    _, w, _ = be.timed(ev.mmlu_items, tok, test, dev, 5, ml, aid); note("warm_items_s", w)


if __name__ == "__main__":
    main()
