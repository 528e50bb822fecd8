"""layerprune.distributed on the CPU: a real 2-process (torchrun, gloo) data-parallel run of the evaluation
and of healing against one process, the forced layer split against the unsplit model, and the
one-family-per-GPU plan and CLI."""
import os, shutil, subprocess, sys
from pathlib import Path

import pytest
import torch

from layerprune import data as D, eval as E
from layerprune import distributed as DP
from layerprune.cli import main
from layerprune.models import load_model, load_tokenizer, tiny_checkpoint
from layerprune.similarity import angular_distances
from layerprune.surgery import prune_block

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, smollm2_dir) -> Path:
    "A tiny random Llama (4 layers) with SmolLM2's tokenizer: real prompts, fast forward passes."
    return tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt", smollm2_dir, n_layers=4)


@pytest.fixture(scope="module")
def two_process_run(tiny_dir, data_dir, tmp_path_factory):
    "tests/_dist_worker.py under torchrun with 2 CPU processes; what every rank got and rank 0's one-process reference."
    if shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists():
        pytest.fail("torchrun not found next to the Python interpreter: install torch's console scripts")
    out = tmp_path_factory.mktemp("dp")
    torchrun = str(Path(sys.executable).parent / "torchrun") if (Path(sys.executable).parent / "torchrun").exists() else "torchrun"
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2",
           str(ROOT / "tests" / "_dist_worker.py"), str(tiny_dir), str(data_dir), str(out)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    load = lambda name: torch.load(out / name, weights_only=False)
    return dict(ranks=[load("rank0.pt"), load("rank1.pt")], ref=load("reference.pt"), out=out)


@pytest.mark.parametrize("task", ["mmlu", "mmlu_plain", "boolq"])
def test_dp_eval_identical_to_one_process(two_process_run, task):
    ref = two_process_run["ref"][task]
    assert len(ref.labels) >= 9
    for got in (r[task] for r in two_process_run["ranks"]):  # every process returns the full, identical result
        assert got.predictions == ref.predictions and got.labels == ref.labels
        assert torch.equal(got.logits, ref.logits)
        assert got.accuracy == ref.accuracy
        if task.startswith("mmlu"):
            assert got.macro_accuracy == ref.macro_accuracy
            assert got.subjects.equals(ref.subjects)
        assert got.settings["processes"] == 2
        drop = {"seconds", "processes"}
        assert {k: v for k, v in got.to_row().items() if k not in drop} == {k: v for k, v in ref.to_row().items() if k not in drop}


def test_dp_c4_loss_exact(two_process_run):
    ref = two_process_run["ref"]["c4"]
    for got in (r["c4"] for r in two_process_run["ranks"]):
        assert got.block_losses == ref.block_losses and len(got.block_losses) == 7
        assert got.loss == ref.loss and got.normalized_loss == ref.normalized_loss


def test_dp_results_table_written_once(two_process_run):
    import pandas as pd
    t = pd.read_csv(two_process_run["out"] / "results.csv")
    assert list(t.task) == ["mmlu", "mmlu", "boolq", "c4"] and (t.processes == 2).all()
    assert t.accuracy.iloc[0] == two_process_run["ref"]["mmlu"].accuracy


def test_dp_heal_matches_accumulation(two_process_run):
    "2 processes x micro batch 2 (DDP, gloo) == 1 process with 2 accumulation steps of 2 (dropout 0)."
    ref = two_process_run["ref"]["heal_log"]
    assert len(ref) == 4
    for got in two_process_run["ranks"]:
        for a, b in zip(got["heal_log"], ref):
            assert a["step"] == b["step"] and a["tokens"] == b["tokens"]
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-6, abs=1e-7)
            assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-5)  # the all-reduced gradient of the whole batch
        assert got["heal_meta_processes"] == 2
    assert [r["loss"] for r in ref] != [ref[0]["loss"]] * 4  # the run did train
    heal_dir = two_process_run["out"] / "heal"
    assert sorted(p.name for p in heal_dir.iterdir() if p.name != ".lock") == ["adapter", "log.csv", "metadata.json"]  # .lock: the folder lock
    assert len((heal_dir / "log.csv").read_text().splitlines()) == 5  # header + 4 steps, written by the main process


def test_heal_refuses_batch_that_does_not_split():
    from layerprune.healing import HealConfig, _data_parallel
    class FakeAcc:  # what heal reads of an Accelerator
        distributed_type, num_processes, process_index, device = "DistributedType.MULTI_GPU", 3, 0, torch.device("cpu")
    with pytest.raises(ValueError, match="must split into 3 processes"):
        _data_parallel(FakeAcc(), HealConfig(global_batch=16, micro_batch=4), None)
    FakeAcc.distributed_type = "DistributedType.FSDP"
    with pytest.raises(NotImplementedError, match="not FSDP"):
        _data_parallel(FakeAcc(), HealConfig(global_batch=12, micro_batch=4), None)


def test_forced_split_same_distances_and_scores(tiny_dir, data_dir):
    "The split model (accelerate hooks forced on; both halves on the CPU here) gives the unsplit model's numbers."
    plain = load_model(tiny_dir)
    split = DP.load_sharded(tiny_dir, split_at=2, devices=("cpu", "cpu"), force_hooks=True)
    assert all(hasattr(l, "_hf_hook") for l in split.model.layers)
    tok = load_tokenizer(tiny_dir)
    docs = D.load_c4("validation", data_dir / "c4")[:6]
    batches = list(D.last_token_batches(docs, tok, 3, 64))
    d_plain, d_split = angular_distances(plain, batches, progress=False), angular_distances(split, batches, progress=False)
    assert d_plain.count == d_split.count == 6
    assert (d_plain.total == d_split.total).all() and d_plain.total[0, 4] > 0
    subjects = ["anatomy"]
    qs, dev = D.load_mmlu("test", data_dir / "mmlu", subjects=subjects), D.load_mmlu("dev", data_dir / "mmlu", subjects=subjects)
    pruned_split, pruned_plain = prune_block(split, 1, 2, inplace=True), prune_block(plain, 1, 2, inplace=True)
    dm = DP.sync_device_map(pruned_split)
    assert {k: v for k, v in dm.items() if ".layers." in k} == {"model.layers.0": "cpu", "model.layers.1": "cpu"}
    a = E.mmlu_eval(pruned_split, tok, qs, dev, limit=4, progress=False)
    b = E.mmlu_eval(pruned_plain, tok, qs, dev, limit=4, progress=False)
    assert a.predictions == b.predictions and torch.equal(a.logits, b.logits)


def test_split_map_refuses_bad_split(tiny_dir):
    from layerprune.models import load_config
    with pytest.raises(ValueError, match="1 <= first <= 3"):
        DP.layer_split_device_map(load_config(tiny_dir), 0)
    with pytest.raises(ValueError, match="max_memory only bounds"):
        DP.load_sharded(tiny_dir, split_at=2, max_memory={0: "1GiB"})


def test_family_gpu_plan():
    assert DP.family_gpu_plan(["a", "b", "c", "d", "e"], [0, 1]) == {0: ["a", "c", "e"], 1: ["b", "d"]}
    assert DP.family_gpu_plan(["a", "b"], [2, 3, 5]) == {2: ["a"], 3: ["b"]}
    with pytest.raises(ValueError, match="twice"):
        DP.family_gpu_plan(["a", "a"], [0])
    assert DP.parse_gpus("1,0", n_visible=2) == [1, 0]
    with pytest.raises(ValueError, match=r"\[2\] do not exist"):
        DP.parse_gpus("0,2", n_visible=2)
    with pytest.raises(ValueError, match="comma-separated"):
        DP.parse_gpus("0;1", n_visible=2)


def test_cli_figures_gpus_dry_run(capsys):
    main(["figures", "--families", "smollm2-135m,gemma3-270m,qwen2.5-coder-1.5b", "--gpus", "0,1", "--dry-run",
          "--profile", "tiny", "--figures-dir", str(ROOT / "figures")])
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["GPU 0: smollm2-135m, qwen2.5-coder-1.5b", "GPU 1: gemma3-270m"]
    cmds = [l for l in out if l.startswith("CUDA_VISIBLE_DEVICES=")]
    assert [c.split()[0] for c in cmds] == ["CUDA_VISIBLE_DEVICES=0", "CUDA_VISIBLE_DEVICES=0", "CUDA_VISIBLE_DEVICES=1"]
    assert all("layerprune.cli:family_figures" in c and '"profile": "tiny"' in c for c in cmds)  # a library job, no CLI flags


def test_cli_figures_bad_gpu_and_family():
    with pytest.raises(SystemExit, match="do not exist"):
        main(["figures", "--family", "smollm2-135m", "--gpus", "99", "--figures-dir", str(ROOT / "figures")])
    with pytest.raises(SystemExit, match="Unknown families"):
        main(["figures", "--families", "smollm2-135m,nope", "--gpus", "0", "--dry-run", "--figures-dir", str(ROOT / "figures")])


def test_run_family_plan_pins_one_gpu_per_child(tmp_path, monkeypatch):
    (tmp_path / "gpu_job.py").write_text("import os\ndef job(family): print(os.environ['CUDA_VISIBLE_DEVICES'])\n"
                                         "def fail(family): raise SystemExit(3)\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    codes = DP.run_family_plan({3: ["a"], 5: ["b", "c"]}, "gpu_job:job", log_dir=tmp_path)
    assert codes == {"a": 0, "b": 0, "c": 0}
    assert [(tmp_path / f).read_text().strip() for f in ("a.gpu3.log", "b.gpu5.log", "c.gpu5.log")] == ["3", "5", "5"]
    assert DP.run_family_plan({0: ["x"]}, "gpu_job:fail", log_dir=tmp_path) == {"x": 3}
