"""Benchmark layerprune.eval against lm-evaluation-harness on the same questions.

MMLU k-shot (and BoolQ 0-shot) on one model: our kv-prefix and generic scorers, and lm-eval's HF
backend run in its own venv on local task yamls written here, with (1) exactly our Hendrycks prompt
and (2) lm-eval's default `mmlu` prompt. Reports accuracy, per-question agreement and wall time.

    python bench/eval.py --model scratch/smollm2-135m --limit 10 --boolq-limit 100
    python bench/eval.py --model DIR --device cuda --dtype bfloat16 --limit 0 --lmeval-batch-size 32   # all of MMLU on a GPU

Results: bench/RESULTS.md, section "P3 evaluation".
"""
from __future__ import annotations
import argparse, csv, json, os, platform, shutil, subprocess, sys, tempfile, time
from pathlib import Path
from types import SimpleNamespace

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from layerprune import eval as ev  # noqa: E402
from layerprune import scoring as sc  # noqa: E402
from layerprune.models import load_model, load_tokenizer  # noqa: E402

DEFAULT_SUBJECTS = ("abstract_algebra", "anatomy", "college_biology", "high_school_us_history", "marketing", "professional_law")


def read_mmlu(data_dir: Path, split: str, subject: str):
    with open(data_dir / "mmlu" / split / f"{subject}_{split}.csv", newline="", encoding="utf-8") as f:
        return [SimpleNamespace(subject=subject, question=r[0], choices=tuple(r[1:5]), answer="ABCD".index(r[5])) for r in csv.reader(f)]


def read_boolq(data_dir: Path):
    with open(data_dir / "boolq" / "val.jsonl", encoding="utf-8") as f:
        return [SimpleNamespace(**json.loads(line)) for line in f]


def all_subjects(data_dir: Path):
    return sorted(p.name.removesuffix("_test.csv") for p in (data_dir / "mmlu" / "test").glob("*_test.csv"))


def write_jsonl(path: Path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows: f.write(json.dumps(r) + "\n")


def q_row(q): return dict(question=q.question, choices=list(q.choices), answer=int(q.answer))


def yaml_str(s: str) -> str: return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def write_mmlu_tasks(work: Path, questions, dev, k: int) -> dict[str, list[str]]:
    "Task yamls per subject: 'hendrycks' = our prompt exactly; 'lmeval' = lm-eval's default mmlu template."
    by_subject, shots = ev.group_by_subject(questions), ev.group_by_subject(dev)
    tasks = {"hendrycks": [], "lmeval": []}
    for s, qs in by_subject.items():
        write_jsonl(work / f"{s}_test.jsonl", [q_row(q) for q in qs])
        write_jsonl(work / f"{s}_dev.jsonl", [q_row(q) for q in shots[s][:k]])
        common = [f"dataset_path: json",
                  f"dataset_kwargs:\n  data_files:\n    test: {work / f'{s}_test.jsonl'}\n    dev: {work / f'{s}_dev.jsonl'}",
                  "test_split: test", "fewshot_split: dev", "fewshot_config:\n  sampler: first_n", f"num_fewshot: {k}",
                  "output_type: multiple_choice", 'doc_to_choice: ["A", "B", "C", "D"]', "doc_to_target: answer",
                  "target_delimiter: \" \"", "fewshot_delimiter: \"\\n\\n\"",
                  "metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true", "metadata:\n  version: 1.0"]
        variants = {
            "hendrycks": (ev.mmlu_header(s), "{{question}}\\nA. {{choices[0]}}\\nB. {{choices[1]}}\\nC. {{choices[2]}}\\nD. {{choices[3]}}\\nAnswer:"),
            # lm_eval/tasks/mmlu/default: _default_template_yaml + mmlu_<subject>.yaml (description with one space)
            "lmeval": (f"The following are multiple choice questions (with answers) about {s.replace('_', ' ')}.\n\n",
                       "{{question.strip()}}\\nA. {{choices[0]}}\\nB. {{choices[1]}}\\nC. {{choices[2]}}\\nD. {{choices[3]}}\\nAnswer:")}
        for v, (desc, text) in variants.items():
            name = f"lp_{v}_{s}"
            (work / f"{name}.yaml").write_text("\n".join([f"task: {name}", f"description: {yaml_str(desc)}",
                                                          f"doc_to_text: \"{text}\"", *common]) + "\n")
            tasks[v].append(name)
    return tasks


def write_boolq_task(work: Path, examples) -> str:
    write_jsonl(work / "boolq_val.jsonl", [dict(question=e.question, passage=e.passage, label=int(e.label), idx=e.idx) for e in examples])
    # lm_eval/tasks/super_glue/boolq/default.yaml with local data
    (work / "lp_boolq.yaml").write_text("\n".join([
        "task: lp_boolq", "dataset_path: json", f"dataset_kwargs:\n  data_files:\n    validation: {work / 'boolq_val.jsonl'}",
        "validation_split: validation", "output_type: multiple_choice",
        'doc_to_text: "{{passage}}\\nQuestion: {{question}}?\\nAnswer:"', 'doc_to_choice: ["no", "yes"]', "doc_to_target: label",
        "metric_list:\n  - metric: acc", "metadata:\n  version: 2.0"]) + "\n")
    return "lp_boolq"


def run_lmeval(args, work: Path, tasks: list[str], num_fewshot, label: str) -> dict | None:
    py = Path(shutil.which(args.lmeval_python) or args.lmeval_python)  # a path, or a name on PATH ("python3")
    if not py.exists():
        print(f"lm-eval python {py} not found: skipping lm-eval ({label})"); return None
    out = work / f"lmeval_{label}.json"
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()), TOKENIZERS_PARALLELISM="false")
    cmd = [str(py), str(ROOT / "bench" / "lmeval_runner.py"), "--model", str(args.model), "--include", str(work),
           "--tasks", ",".join(tasks), "--out", str(out), "--device", args.device, "--dtype", args.dtype,
           "--batch_size", str(args.lmeval_batch_size), *(["--warmup"] if args.warmup else [])]
    if num_fewshot is not None: cmd += ["--num_fewshot", str(num_fewshot)]
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"lm-eval ({label}) failed:\n{p.stderr[-4000:]}"); return dict(error=p.stderr[-4000:])
    r = json.loads(out.read_text())
    r["process_seconds"] = time.perf_counter() - t
    return r


NEAR_TIE_NATS = (0.0625, 0.125, 0.25, 0.5)  # tolerances reported; the widest bounds a differing answer in P3 (bench/summary.py)


def lmeval_mmlu_summary(r: dict, tasks: list[str], ours) -> dict:
    preds = [p for t in tasks for p in r["tasks"][t]["predictions"]]
    targets = [p for t in tasks for p in r["tasks"][t]["targets"]]
    assert targets == ours.labels, "lm-eval saw other questions or another order"
    acc = sum(p == y for p, y in zip(preds, targets)) / len(targets)
    per = [sum(p == y for p, y in zip(r["tasks"][t]["predictions"], r["tasks"][t]["targets"])) / r["tasks"][t]["n"] for t in tasks]
    agree = sum(p == q for p, q in zip(preds, ours.predictions)) / len(preds)
    loglik = [l for t in tasks for l in r["tasks"][t]["loglik"]]
    subject = [t.split("_", 2)[2] for t in tasks for _ in range(r["tasks"][t]["n"])]  # lp_<variant>_<subject>
    by_row = answer_gaps(torch.tensor(loglik, dtype=torch.float64), ours.logits.double())
    gaps = {i: float(by_row[i]) for i, (p, q) in enumerate(zip(preds, ours.predictions)) if p != q}  # the differing answers
    far = [dict(question=i, subject=subject[i], ours=ours.predictions[i], lmeval=preds[i], gap=round(g, 4))
           for i, g in gaps.items() if g > NEAR_TIE_NATS[1]]
    return dict(accuracy=acc, macro_accuracy=sum(per) / len(per), agreement_with_ours=agree,
                disagreements_beyond_near_ties={str(t): sum(g > t for g in gaps.values()) for t in NEAR_TIE_NATS},
                disagreements_beyond_eighth_nat=far, **lmeval_times(r))


def answer_gaps(ref: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    "Per row of candidate scores: by how much (nats) `ref` or `x` prefers its own answer over the other's, the larger (0 where they agree)."
    r, p, rows = ref.argmax(1), x.argmax(1), torch.arange(len(ref))
    return torch.maximum(ref[rows, r] - ref[rows, p], x[rows, p] - x[rows, r])  # one softmax a row: logit gaps = log-lik gaps


def lmeval_times(r: dict) -> dict:
    return dict(wall_seconds=r["eval_seconds"], cpu_seconds=r["eval_cpu_seconds"], loglikelihood_wall_seconds=r["loglikelihood_seconds"],
                loglikelihood_cpu_seconds=r["loglikelihood_cpu_seconds"], load_seconds=r["load_seconds"],
                batch_size=r["batch_size"], threads=r["torch_threads"])


TIMERS = dict(ours="eval.mmlu_eval: prompts, tokenization, scoring, aggregation (data read and model load before the timer)",
              lmeval="lm_eval.simple_evaluate: task and request building, tokenization, scoring, aggregation (model load before the timer)",
              warmup_what="one forward pass of 8 tokens on the loaded model before each timer starts (ours and lm-eval's alike)")


@torch.inference_mode()
def warmup(model):
    "One short forward pass, so that neither timer pays for the process's first CUDA kernels."
    dev = next(model.parameters()).device
    model(input_ids=torch.arange(1, 9, device=dev)[None])
    if torch.cuda.is_available(): torch.cuda.synchronize()


def work_counts(model, tok, test, dev, k: int, max_length, batch_tokens: int) -> dict:
    "After the timer, apart: our stages timed one by one (items, scoring), forward passes, tokens computed (each prefix once + every suffix) and in whole prompts (lm-eval's)."
    (items, t_items, _) = timed(ev.mmlu_items, tok, test, dev, k, max_length)
    calls = []
    hook = model.register_forward_pre_hook(lambda *a: calls.append(1))
    try: _, t_score, _ = timed(sc.prefix_candidate_logits, model, items, batch_tokens, progress=False)
    finally: hook.remove()
    groups = list(sc.prefix_groups(items))
    ours = sum(max(p, 0) + sum(len(s) - max(p, 0) for s in seqs) for _, seqs, p in groups)
    return dict(tokens_computed=ours, tokens_whole_prompts=sum(len(it.input_ids) for it in items), prefix_groups=len(groups),
                stages_apart=dict(items_seconds=t_items, scoring_seconds=t_score, forward_passes=len(calls)))


def timed(fn, *args, **kwargs):
    "fn's result, wall seconds, process CPU seconds (robust to other processes on a shared machine)."
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    if torch.cuda.is_available(): torch.cuda.synchronize()
    return out, time.perf_counter() - w, time.process_time() - c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="checkpoint dir (default: zoo smollm2-135m, else scratch/smollm2-135m)")
    ap.add_argument("--data", default=os.environ.get("LAYERPRUNE_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--subjects", default=",".join(DEFAULT_SUBJECTS), help="comma-separated, or 'all'")
    ap.add_argument("--limit", type=int, default=10, help="questions per subject (0: all)")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--boolq-limit", type=int, default=100, help="BoolQ validation examples (0: all, -1: skip BoolQ)")
    ap.add_argument("--batch-tokens", type=int, default=8192)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (CPU)")
    ap.add_argument("--lmeval-python", default=str(ROOT / "scratch" / "lmeval-venv" / "bin" / "python"))
    ap.add_argument("--lmeval-batch-size", default="8")
    ap.add_argument("--skip-lmeval-default", action="store_true", help="skip the run with lm-eval's own mmlu prompt")
    ap.add_argument("--skip-generic", action="store_true", help="skip our generic (no prefix cache) MMLU path")
    ap.add_argument("--out", default=None, help="write the summary JSON here")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="time the first forward pass of the process too (default: one short forward pass before each timer, ours and lm-eval's)")
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    if args.model is None:
        try:
            from layerprune import zoo
            args.model = zoo.fetch("smollm2-135m")
        except Exception:
            args.model = ROOT / "scratch" / "smollm2-135m"
    data = Path(args.data)
    subjects = all_subjects(data) if args.subjects == "all" else args.subjects.split(",")
    limit = args.limit or None
    t_read = time.perf_counter()
    test = ev.select_mmlu([q for s in subjects for q in read_mmlu(data, "test", s)], limit, args.seed)
    dev = [q for s in subjects for q in read_mmlu(data, "dev", s)]
    t_read = time.perf_counter() - t_read  # lm-eval reads its (JSON) copy inside its timer

    summary = dict(machine=dict(platform=platform.platform(), cpu=platform.processor() or platform.machine(),
                                cores=os.cpu_count(), torch_threads=torch.get_num_threads(), torch=torch.__version__,
                                cuda=torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None),
                   command=" ".join(sys.argv), date=time.strftime("%Y-%m-%d", time.gmtime()), model=str(args.model), device=args.device, dtype=args.dtype,
                   subjects=subjects, limit=limit, k=args.k, n_mmlu=len(test))
    tok = load_tokenizer(args.model)
    model = load_model(args.model, dtype=getattr(torch, args.dtype), device_map=args.device if args.device != "cpu" else None)
    if args.warmup: warmup(model)
    summary["timers"] = TIMERS | dict(warmup=args.warmup)
    ours, wall, cpu = timed(ev.mmlu_eval, model, tok, test, dev, k=args.k, batch_tokens=args.batch_tokens, progress=False)
    summary["ours_kv_prefix"] = ours.to_row() | dict(wall_seconds=wall, cpu_seconds=cpu, data_read_seconds=t_read) | work_counts(model, tok, test, dev, args.k, ours.settings["max_length"], args.batch_tokens)
    print(f"ours kv-prefix: acc {ours.accuracy:.4f} macro {ours.macro_accuracy:.4f} in {ours.settings['seconds']:.1f}s")
    if not args.skip_generic:
        gen, wall, cpu = timed(ev.mmlu_eval, model, tok, test, dev, k=args.k, batch_tokens=args.batch_tokens, use_prefix_cache=False, progress=False)
        summary["ours_generic"] = gen.to_row() | dict(wall_seconds=wall, cpu_seconds=cpu, agreement_with_kv_prefix=sum(a == b for a, b in zip(gen.predictions, ours.predictions)) / len(test),
                                                      max_abs_logit_diff=float((gen.logits - ours.logits).abs().max()))
        print(f"ours generic:   acc {gen.accuracy:.4f} in {gen.settings['seconds']:.1f}s")

    with tempfile.TemporaryDirectory(prefix="lp_lmeval_") as w:
        work = Path(w)
        tasks = write_mmlu_tasks(work, test, dev, args.k)
        r = run_lmeval(args, work, tasks["hendrycks"], None, "mmlu_hendrycks")
        if r and "error" not in r:
            summary["lmeval_hendrycks_prompt"] = lmeval_mmlu_summary(r, tasks["hendrycks"], ours)
            first = r["tasks"][tasks["hendrycks"][0]]["first_prompt"]
            summary["lmeval_hendrycks_prompt"]["same_first_prompt"] = first == ev.mmlu_prompt(ev.group_by_subject(test)[subjects[0]][0], ev.group_by_subject(dev)[subjects[0]], args.k)
            print("lm-eval, our prompt:", summary["lmeval_hendrycks_prompt"])
        elif r: summary["lmeval_hendrycks_prompt"] = r
        if not args.skip_lmeval_default:
            r = run_lmeval(args, work, tasks["lmeval"], None, "mmlu_default")
            if r and "error" not in r:
                summary["lmeval_default_prompt"] = lmeval_mmlu_summary(r, tasks["lmeval"], ours)
                print("lm-eval, its default prompt:", summary["lmeval_default_prompt"])
        if args.boolq_limit >= 0:
            exs = ev.select(read_boolq(data), args.boolq_limit or None, args.seed)
            b, wall, cpu = timed(ev.boolq_eval, model, tok, exs, batch_tokens=args.batch_tokens, progress=False)
            summary["ours_boolq"] = b.to_row() | dict(wall_seconds=wall, cpu_seconds=cpu)
            print(f"ours BoolQ: acc {b.accuracy:.4f} (majority {b.majority_baseline:.4f}) in {b.settings['seconds']:.1f}s")
            r = run_lmeval(args, work, [write_boolq_task(work, exs)], 0, "boolq")
            if r and "error" not in r:
                t = r["tasks"]["lp_boolq"]
                assert t["targets"] == b.labels
                summary["lmeval_boolq"] = dict(accuracy=t["acc"], **lmeval_times(r),
                                               agreement_with_ours=sum(p == q for p, q in zip(t["predictions"], b.predictions)) / len(exs))
                print("lm-eval BoolQ:", summary["lmeval_boolq"])
    o = summary["ours_kv_prefix"]
    for key in ("lmeval_hendrycks_prompt", "lmeval_default_prompt"):
        if "wall_seconds" in summary.get(key, {}):
            l = summary[key]
            summary[key]["speedup_of_ours"] = dict(wall=l["wall_seconds"] / o["wall_seconds"], cpu=l["cpu_seconds"] / o["cpu_seconds"],
                                                   wall_with_our_data_read=l["wall_seconds"] / (o["wall_seconds"] + o["data_read_seconds"]),
                                                   model_only_wall=l["loglikelihood_wall_seconds"] / o["wall_seconds"])
    print(json.dumps(summary, indent=1, default=str))
    if args.out:  # the summary above is printed first: a failed write loses nothing
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
