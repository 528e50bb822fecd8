"bench/ runs from any checkout: its scripts and documents name no device or machine folders (lease.sh's variables instead)."
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MACHINE = ("/root/", "/work/", "/home/")  # the device machine's home, this workplace, a person's home


def bench_texts() -> list[Path]:
    "The scripts and documents of bench/ (the raw records under *results*/ are data, not instructions)."
    return sorted(p for p in (ROOT / "bench").rglob("*") if p.suffix in (".py", ".sh", ".md")
                  and not any("results" in part for part in p.relative_to(ROOT / "bench").parts[:-1]))


def test_bench_has_scripts_and_documents():
    names = {p.name for p in bench_texts()}
    assert {"lease.sh", "full_run.sh", "README.md", "RESULTS.md", "summary.py"} <= names
    assert not {"lease3.sh", "lease4.sh", "setup.sh"} & names, "superseded by bench/gpu/lease.sh"


@pytest.mark.parametrize("path", bench_texts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_machine_folders(path):
    bad = [f"{i}: {line.strip()}" for i, line in enumerate(path.read_text().splitlines(), 1) if any(m in line for m in MACHINE)]
    assert not bad, f"{path.relative_to(ROOT)} names machine folders (use $LP_BASE, $LP_DATA, $LAYERPRUNE_HOME):\n" + "\n".join(bad)


def test_lmeval_summary_counts_and_lists_the_far_disagreements():
    import importlib.util
    from types import SimpleNamespace
    import torch
    spec = importlib.util.spec_from_file_location("bench_eval", ROOT / "bench" / "eval.py")
    be = importlib.util.module_from_spec(spec); spec.loader.exec_module(be)
    tasks = {"lp_hendrycks_anatomy": dict(predictions=[0, 1], targets=[0, 1], n=2, loglik=[[-1, -2, -3, -4], [-1.05, -1, -3, -4]]),
             "lp_hendrycks_world_religions": dict(predictions=[2], targets=[3], n=1, loglik=[[-5, -5, -1, -5]])}
    r = dict(tasks=tasks, eval_seconds=10.0, eval_cpu_seconds=9.0, loglikelihood_seconds=8.0, loglikelihood_cpu_seconds=7.0,
             load_seconds=1.0, batch_size="4", torch_threads=2)
    # ours: question 1 prefers A by 0.02 where lm-eval prefers B by 0.05 (a near-tie); question 2: D by 2, lm-eval C by 4
    ours = SimpleNamespace(labels=[0, 1, 3], predictions=[0, 0, 3], logits=torch.tensor([[3., 1, 0, 0], [1., .98, 0, 0], [0, 0, 0, 2.]]))
    s = be.lmeval_mmlu_summary(r, list(tasks), ours)
    assert s["agreement_with_ours"] == pytest.approx(1 / 3) and s["accuracy"] == pytest.approx(2 / 3)
    assert s["disagreements_beyond_near_ties"] == {"0.0625": 1, "0.125": 1, "0.25": 1, "0.5": 1}
    assert s["disagreements_beyond_eighth_nat"] == [dict(question=2, subject="world_religions", ours=3, lmeval=2, gap=4.0)]


def test_answer_gaps_zero_where_agreeing_else_the_larger_preference():
    "bench/eval.py answer_gaps, used by the lm-eval summary and bench/gpu/p3_backends.py alike."
    import importlib.util
    import torch
    spec = importlib.util.spec_from_file_location("bench_eval", ROOT / "bench" / "eval.py")
    be = importlib.util.module_from_spec(spec); spec.loader.exec_module(be)
    ref = torch.tensor([[3., 1, 0, 0], [1., .98, 0, 0], [0, 0, 0, 2.]])
    x = torch.tensor([[2., 0, 0, 0], [0., 0.5, 0, 0], [0, 0, 4, 0.]])
    # row 0 agrees; row 1: ref prefers A by 0.02, x prefers B by 0.5; row 2: ref D by 2, x C by 4
    torch.testing.assert_close(be.answer_gaps(ref, x), torch.tensor([0., 0.5, 4.]))
    torch.testing.assert_close(be.answer_gaps(ref, x), be.answer_gaps(x, ref))  # symmetric


def test_efficient_trigger_probe_and_counts():
    "bench/gpu/p3_efficient_trigger.py: the wrappers leave attention's output as it is and record each masked call."
    import importlib.util
    import torch
    F = torch.nn.functional
    spec = importlib.util.spec_from_file_location("p3_efficient_trigger", ROOT / "bench" / "gpu" / "p3_efficient_trigger.py")
    t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 4, 5, 8, generator=g)
    k, v = (torch.randn(2, 1, 7, 8, generator=g).expand(2, 4, 7, 8) for _ in range(2))  # one head repeated, stride 0
    mask = torch.ones(5, 7, dtype=torch.bool).tril(2)[None, None].expand(2, 1, 5, 7)
    plain, sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=mask), F.scaled_dot_product_attention
    calls = []
    with t.attention_through(t.probe(calls)):
        probed = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        F.scaled_dot_product_attention(q, k, v)  # no mask: not recorded
    with t.attention_through(t.contiguous_kv):
        copied = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert F.scaled_dot_product_attention is sdpa  # restored
    torch.testing.assert_close(probed, plain); torch.testing.assert_close(copied, plain)
    assert len(calls) == 1 and calls[0]["head_stride_0"] and (calls[0]["kv_len"], calls[0]["kv_len_mod32"]) == (7, 7)
    assert calls[0]["mask_dtype"] == "bool" and calls[0]["mask_shape"] == [2, 1, 5, 7]
    for name in ("efficient", "efficient_contiguous"):  # the CPU has no memory-efficient kernel; where one runs, it agrees
        assert calls[0][name].startswith("refused") if isinstance(calls[0][name], str) else calls[0][name] < 1e-5
    fake = [dict(efficient=2.0, head_stride_0=True), dict(efficient=0.1, head_stride_0=False),
            dict(efficient="refused: no kernel", head_stride_0=True)]
    assert t.wrong_calls(fake, "efficient") == {"0.05": dict(stride_0=1, contiguous=1), "0.25": dict(stride_0=1, contiguous=0),
                                                "1.0": dict(stride_0=1, contiguous=0), "refused": 1}
