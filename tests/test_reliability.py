"Faults a user meets: a heal killed with SIGKILL resumes to the same result; a second writer on a run folder is refused."
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path

import pytest

from layerprune.cli import main
from layerprune.files import FolderLockedError, lock_folder
from layerprune.sweep import SweepConfig, run_sweep

HEAL = textwrap.dedent("""
    import sys, time, torch
    from layerprune.healing import heal, HealConfig
    from layerprune.models import tiny_model
    blocks = torch.randint(3, 500, (12, 32), generator=torch.Generator().manual_seed(0))
    cfg = HealConfig(steps=12, seq_len=32, global_batch=4, micro_batch=2, lr=1e-2, warmup_steps=2, rank=4, quantize=None,
                     checkpoint_every=3)
    slow = (lambda step, row: time.sleep(0.5)) if sys.argv[2] == "slow" else None
    heal(tiny_model("llama"), blocks, cfg, out_dir=sys.argv[1], callback=slow, progress=False, device="cpu")
""")


def _heal(out: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HEAL, str(out), mode], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _losses(out: Path) -> list[float]:
    import csv
    with open(out / "log.csv") as f: return [float(r["loss"]) for r in csv.DictReader(f)]


def test_heal_killed_midway_resumes_to_the_same_result(tmp_path):
    ref, part = tmp_path / "ref", tmp_path / "part"
    assert _heal(ref, "fast").wait(timeout=300) == 0
    p = _heal(part, "slow")
    deadline = time.time() + 240
    while not list(part.glob("checkpoint-*")) and time.time() < deadline and p.poll() is None: time.sleep(0.1)
    assert list(part.glob("checkpoint-*")), "no checkpoint was written before the kill"
    p.send_signal(signal.SIGKILL); p.wait()
    assert not (part / "metadata.json").exists()  # it really died midway
    assert _heal(part, "fast").wait(timeout=300) == 0  # the same command again: resumes from the checkpoint
    meta = json.loads((part / "metadata.json").read_text())
    assert meta["resumed_from_step"] >= 3 and meta["completed"]
    assert _losses(part) == pytest.approx(_losses(ref), abs=1e-6)  # the same trajectory, steps 1..12
    assert len(_losses(part)) == 12


def test_second_writer_on_a_run_folder_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from layerprune.files import lock_folder\n"
                               "with lock_folder(sys.argv[1], 'sweep'): print('held', flush=True); time.sleep(60)", str(run)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderLockedError, match=f"pid {holder.pid}"):
            run_sweep(SweepConfig("smollm2-135m", profile="tiny", out_dir=str(run)))  # refused before any work
        assert not (run / "points").exists() and not (run / "config.json").exists()
        with pytest.raises(SystemExit):  # the CLI: one line naming the folder and the holder, no traceback
            main(["sweep", "smollm2-135m", "--profile", "tiny", "--out-dir", str(run)])
        err = capsys.readouterr().err
        assert "is being written by another sweep" in err and "Traceback" not in err
    finally:
        holder.kill(); holder.wait()
    with lock_folder(run, "sweep"): pass  # free again once the holder is gone


# A tiny sweep through the CLI, run once: a 6-layer checkpoint, --ns 1 and the tiny profile's heal size 0.25 L = 2,
# which is not among --ns (issue 20: it crashed, and a re-run exited 0 without the healed rows).

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, smollm2_dir, data_dir):
    from layerprune.models import tiny_checkpoint
    d = tmp_path_factory.mktemp("tiny_run")
    ck = tiny_checkpoint(d / "tiny", smollm2_dir, n_layers=6)
    argv = ["sweep", str(ck), "--profile", "tiny", "--ns", "1", "--device", "cpu", "--data-dir", str(data_dir),
            "--out-dir", str(d / "run")]
    main(argv)
    return d / "run", argv


def _copy_run(tiny_run, tmp_path) -> tuple[Path, list[str]]:
    import shutil
    run, argv = tiny_run
    shutil.copytree(run, tmp_path / "run", ignore=shutil.ignore_patterns("work"))
    return tmp_path / "run", argv[:-1] + [str(tmp_path / "run")]


def _csv(run: Path):
    import pandas as pd
    return pd.read_csv(run / "results.csv")


def test_heal_size_not_among_ns_joins_the_grid_and_a_rerun_keeps_it(tiny_run, tmp_path, monkeypatch, capsys):
    run, argv = _copy_run(tiny_run, tmp_path)
    df = _csv(run)
    healed = df[df.healed]
    assert sorted(zip(healed.strategy, healed.n)) == [("deepest", 2), ("similarity", 2)]
    assert sorted(set(df[~df.healed & (df.strategy != "none")].n)) == [1, 2]  # each healed point has its unhealed one
    import layerprune.sweep as S
    def no(*a, **k): raise AssertionError("a finished sweep loaded or scored something")
    for name in ("load_model", "score", "block_losses", "heal_point"):
        monkeypatch.setattr(S, name, no)
    capsys.readouterr()
    main(argv)  # the same command again: exits 0, prints every point, healed ones included
    out = capsys.readouterr().out
    assert out.count("True") == 2 and len(out.strip().splitlines()) == 1 + len(df)
    assert _csv(run).equals(df)


def _other_data(data_dir: Path, tmp: Path) -> Path:
    "MMLU and BoolQ of `data_dir`, and other C4 documents (the same ones, each with a word added)."
    from layerprune.data import load_c4
    other = tmp / "other-data"; (other / "c4").mkdir(parents=True)
    for name in ("mmlu", "boolq"): (other / name).symlink_to(data_dir / name)
    docs = load_c4("validation", data_dir / "c4")
    (other / "c4" / "c4-validation.other.jsonl").write_text("".join(json.dumps({"text": "Also: " + t}) + "\n" for t in docs))
    return other


def test_rerun_with_other_data_dir_is_refused_naming_the_difference(tiny_run, tmp_path, data_dir, capsys):
    run, argv = _copy_run(tiny_run, tmp_path)
    (run / "points" / "similarity-n002-healed.json").unlink()  # one point to compute: the run would mix data
    before = _csv(run)
    i = argv.index("--data-dir")
    argv[i + 1] = str(_other_data(data_dir, tmp_path))
    with pytest.raises(SystemExit) as e: main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "holds results computed on other data.c4_distances, data.c4_heal, data.c4_loss than this run's" in err, err
    assert _csv(run).equals(before)  # nothing mixed in


def test_a_finished_run_redraws_without_its_data(tiny_run, tmp_path, monkeypatch, capsys):
    "A finished run computes nothing, so it reads no data: a record redraws on any machine (another data folder too)."
    run, argv = _copy_run(tiny_run, tmp_path)
    before = _csv(run)
    import layerprune.sweep as S, layerprune.zoo as Z
    def no(*a, **k): raise AssertionError("a redraw read data or loaded the model")
    for name in ("load_sweep_data", "load_model"): monkeypatch.setattr(S, name, no)
    monkeypatch.setattr(Z, "resolve_model", no)  # the sweep imports it from zoo when it needs the model
    i = argv.index("--data-dir")
    argv[i + 1] = str(tmp_path / "no-such-data")
    main(argv)
    assert "True" in capsys.readouterr().out and _csv(run).equals(before)


def _scored_layer_counts(monkeypatch) -> list[int]:
    "Record the layer count of every model the per-variant scorer runs the C4 loss of."
    import layerprune.eval as E
    seen, c4_loss = [], E.c4_loss
    def spy(m, *a, **k): seen.append(m.config.num_hidden_layers); return c4_loss(m, *a, **k)
    monkeypatch.setattr(E, "c4_loss", spy)
    return seen


@pytest.mark.parametrize("fast", [False, True], ids=["per-variant", "shared-prefix"])
def test_resume_does_not_rescore_the_unpruned_model(tiny_run, tmp_path, fast, monkeypatch):
    import layerprune.sweep as S
    run, argv = _copy_run(tiny_run, tmp_path)
    full_point = run / "points" / "none-n000-raw.json"
    kept = (full_point.read_bytes(), full_point.stat().st_mtime_ns)
    (run / "points" / "deepest-n001-raw.json").unlink()
    seen, passes = _scored_layer_counts(monkeypatch), []
    losses = S.block_losses
    monkeypatch.setattr(S, "block_losses", lambda m, b, variants=None, *a, **k: passes.append(list(variants)) or losses(m, b, variants, *a, **k))
    cfg = SweepConfig(argv[1], profile="tiny", ns=(1,), device="cpu", data_dir=argv[argv.index("--data-dir") + 1],
                      out_dir=str(run), fast=fast, progress=False)
    df = run_sweep(cfg)
    assert len(df) == len(_csv(tiny_run[0])) and (run / "points" / "deepest-n001-raw.json").exists()
    if fast: assert passes == [[(4, 1)]] and seen == []  # one shared pass, for the missing variant only (deepest n=1: layer 4)
    else: assert passes == [] and 6 not in seen  # the per-variant scorer never runs the 6-layer model
    assert (full_point.read_bytes(), full_point.stat().st_mtime_ns) == kept  # the unpruned point is not rewritten
    # only a healed point missing: nothing unhealed is scored at all
    (run / "points" / "similarity-n002-healed.json").unlink()
    seen.clear(); passes.clear()
    run_sweep(cfg)
    assert passes == [] and seen == [4]  # the one healed model (6 - 2 layers); never the unpruned one


def test_full_disk_then_ctrl_c_mid_sweep_keep_finished_points_and_resume(tiny_run, tmp_path, data_dir, monkeypatch, capsys):
    import errno, layerprune.sweep as S
    out = tmp_path / "run"
    argv = ["sweep", str(tiny_run[0].parent / "tiny"), "--profile", "tiny", "--ns", "1", "--heal-ns", "1", "--strategies",
            "deepest", "--device", "cpu", "--data-dir", str(data_dir), "--out-dir", str(out)]
    points = lambda: sorted(p.name for p in (out / "points").iterdir())
    write_text = Path.write_text
    def full_disk(self, *a, **k):  # the disk fills while the second point is written (its temporary file exists then)
        if self.name.startswith(".deepest-n001-raw.json."): raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return write_text(self, *a, **k)
    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(SystemExit) as e: main(argv)
    err = capsys.readouterr().err  # progress bars, then one line
    line = err.strip().splitlines()[-1]
    assert e.value.code == 2 and "Traceback" not in err and line.startswith("layerprune sweep: error: [Errno 28] No space left"), err
    assert "To fix: free disk space" in line and "run the same command again" in line
    assert points() == ["none-n000-raw.json"]  # the finished point is kept, no half-written one, no temporary file
    monkeypatch.setattr(Path, "write_text", write_text)
    def ctrl_c(*a, **k): raise KeyboardInterrupt
    monkeypatch.setattr(S, "heal_point", ctrl_c)  # Ctrl-C while healing
    with pytest.raises(SystemExit) as e: main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 130 and "Traceback" not in err and err.strip().splitlines()[-1].startswith("layerprune sweep: interrupted (Ctrl-C)"), err
    assert points() == ["deepest-n001-raw.json", "none-n000-raw.json"]
    monkeypatch.undo()
    main(argv)  # the same command: the lock is free again, only the healed point is computed
    assert points() == ["deepest-n001-healed.json", "deepest-n001-raw.json", "none-n000-raw.json"]
    assert not [p for p in out.rglob(".*") if p.name != ".lock"]


SLOW_CLI = ("import sys, time, layerprune.healing as H\n"
            "heal = H.heal  # the CLI's heal, each step slowed down so that the kill lands midway\n"
            "H.heal = lambda *a, **k: heal(*a, callback=lambda step, row: time.sleep(0.5), **k)\n"
            "from layerprune.cli import main; main(sys.argv[1:])")


def test_cli_heal_killed_midway_resumes_from_its_checkpoint(tmp_path, smollm2_dir, data_dir):
    from layerprune.models import tiny_checkpoint
    from layerprune.data import load_c4
    ck, out = tiny_checkpoint(tmp_path / "tiny", smollm2_dir, n_layers=4), tmp_path / "healed"
    short = tmp_path / "data" / "c4"; short.mkdir(parents=True)  # short documents: the validation loss takes seconds
    docs = [t[:200] for t in load_c4("validation", data_dir / "c4")]
    (short / "c4-validation.short.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
    argv = ["heal", str(ck), "--family", "smollm2-135m", "--profile", "cpu", "--steps", "12", "--seq-len", "32",
            "--device", "cpu", "--data-dir", str(short.parent), "--out", str(out)]
    log = open(tmp_path / "killed.err", "w+")
    p = subprocess.Popen([sys.executable, "-c", SLOW_CLI, *argv], stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 300
    while not list(out.glob("checkpoint-*")) and time.time() < deadline and p.poll() is None: time.sleep(0.1)
    assert list(out.glob("checkpoint-*")), (tmp_path / "killed.err").read_text()[-2000:]
    p.send_signal(signal.SIGKILL); p.wait()
    assert not (out / "metadata.json").exists()  # it really died midway
    r = subprocess.run([sys.executable, "-c", "import sys; from layerprune.cli import main; main(sys.argv[1:])", *argv],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["resumed_from_step"] >= 1 and meta["completed"] and len(_losses(out)) == 12
