"""Run lm-evaluation-harness (HF backend) on local task yamls and time the evaluation alone.

Runs in the Python environment that has `lm_eval` (its own venv, see bench/RESULTS.md); it does not
import layerprune. Called by bench/eval.py:

    python bench/lmeval_runner.py --model DIR --include WORKDIR --tasks t1,t2 --out result.json
"""
import argparse
import json
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="checkpoint directory or hub id")
    p.add_argument("--include", required=True, help="folder of task yamls")
    p.add_argument("--tasks", required=True, help="comma-separated task names")
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--batch_size", default="8")
    p.add_argument("--num_fewshot", type=int, default=None)
    p.add_argument("--warmup", action="store_true", help="one short forward pass before the timer (as bench/eval.py does for ours)")
    a = p.parse_args()

    import torch
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    t0 = time.perf_counter()
    scoring = dict(wall=0.0, cpu=0.0)
    original = HFLM.loglikelihood

    def timed_loglikelihood(self, *args, **kwargs):  # the model work alone, without task building
        w, c = time.perf_counter(), time.process_time()
        try: return original(self, *args, **kwargs)
        finally: scoring["wall"] += time.perf_counter() - w; scoring["cpu"] += time.process_time() - c

    HFLM.loglikelihood = timed_loglikelihood
    lm = HFLM(pretrained=a.model, device=a.device, dtype=a.dtype, batch_size=a.batch_size)
    t_load = time.perf_counter() - t0
    if a.warmup:
        with torch.inference_mode(): lm.model(torch.arange(1, 9, device=lm.device)[None])
        if torch.cuda.is_available(): torch.cuda.synchronize()
    tm = TaskManager(include_path=a.include)
    t1, c1 = time.perf_counter(), time.process_time()
    res = lm_eval.simple_evaluate(model=lm, tasks=a.tasks.split(","), num_fewshot=a.num_fewshot, task_manager=tm,
                                  log_samples=True, batch_size=a.batch_size, device=a.device)
    seconds, cpu_seconds = time.perf_counter() - t1, time.process_time() - c1
    out = dict(lm_eval_version=lm_eval.__version__ if hasattr(lm_eval, "__version__") else None,
               torch_threads=torch.get_num_threads(), load_seconds=t_load, eval_seconds=seconds,
               eval_cpu_seconds=cpu_seconds, loglikelihood_seconds=scoring["wall"], loglikelihood_cpu_seconds=scoring["cpu"],
               batch_size=a.batch_size, warmup=a.warmup, tasks={})
    for task, samples in res["samples"].items():
        samples = sorted(samples, key=lambda s: s["doc_id"])
        preds = [max(range(len(s["filtered_resps"])), key=lambda j: float(s["filtered_resps"][j][0])) for s in samples]
        out["tasks"][task] = dict(acc=res["results"][task]["acc,none"], n=len(samples), predictions=preds,
                                  targets=[int(s["target"]) for s in samples],
                                  loglik=[[float(r[0]) for r in s["filtered_resps"]] for s in samples],
                                  first_prompt=samples[0]["arguments"][0][0] if samples else None)
    with open(a.out, "w") as f: json.dump(out, f)


if __name__ == "__main__":
    main()
