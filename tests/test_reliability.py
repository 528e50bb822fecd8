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
