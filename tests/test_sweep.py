"Sweep: shared-prefix results equal the per-variant loop; a SIGKILLed run resumes without recomputing or corrupting."
import json, os, signal, subprocess, sys, time
from pathlib import Path

import pandas as pd
import pytest

from layerprune.models import tiny_checkpoint
from layerprune.sweep import SweepConfig, run_sweep, ResultsStore

METRICS = ["mmlu_micro", "mmlu_macro", "boolq", "c4_loss"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, smollm2_dir):
    return tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ck", smollm2_dir, n_layers=6)


def _cfg(tiny_dir, out, data_dir, **kw):
    return SweepConfig(str(tiny_dir), family="tiny", profile="tiny", out_dir=str(out), heal_ns=(),
                       data_dir=str(data_dir), progress=False, **kw)


def test_fast_path_equals_per_variant_loop(tiny_dir, tmp_path, data_dir):
    fast = run_sweep(_cfg(tiny_dir, tmp_path / "fast", data_dir, fast=True))
    naive = run_sweep(_cfg(tiny_dir, tmp_path / "naive", data_dir, fast=False))
    assert len(fast) == 1 + 2 * 5
    assert (fast[["strategy", "n", "start"]].values == naive[["strategy", "n", "start"]].values).all()
    pd.testing.assert_frame_equal(fast[METRICS], naive[METRICS], atol=1e-5, rtol=0)
    # the deepest baseline keeps the last layer: removes L-1-n .. L-2
    deep = fast[fast.strategy == "deepest"].set_index("n")
    assert deep.loc[2, "removed"] == "3,4" and deep.loc[5, "start"] == 0


def test_rerun_of_finished_sweep_loads_nothing(tiny_dir, tmp_path, data_dir, monkeypatch):
    cfg = _cfg(tiny_dir, tmp_path / "run", data_dir, ns=(1, 2))
    first = run_sweep(cfg)
    import layerprune.sweep as sw
    monkeypatch.setattr(sw, "load_model", lambda *a, **k: pytest.fail("a finished sweep must not load the model"))
    pd.testing.assert_frame_equal(run_sweep(cfg), first)


def test_bad_parameters_fail_fast(tiny_dir, tmp_path, data_dir):
    with pytest.raises(ValueError, match="integers 1..5"):
        run_sweep(_cfg(tiny_dir, tmp_path / "bad", data_dir, ns=(6,)))
    with pytest.raises(ValueError, match="strategies=.random.: choose from similarity, deepest"):
        _cfg(tiny_dir, tmp_path / "bad", data_dir, strategies=("random",))
    with pytest.raises(FileNotFoundError):
        run_sweep(_cfg(tiny_dir, tmp_path / "bad", tmp_path / "no-data"))
    assert not (tmp_path / "bad" / "results.csv").exists()


CHILD = """
import sys
from layerprune.sweep import SweepConfig, run_sweep
run_sweep(SweepConfig(sys.argv[1], family="tiny", profile="tiny", out_dir=sys.argv[2], heal_ns=(), data_dir=sys.argv[3],
                      variants_per_pass=1, progress=False))
"""


def test_sigkill_then_resume(tiny_dir, tmp_path, data_dir):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tiny_dir), str(out), str(data_dir)])
    points = out / "points"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(points.glob("*.json"))) < 3 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL); proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in points.glob("*.json")}
    assert 3 <= len(before) < 11, f"kill should land mid-run, found {len(before)} points"
    pd.read_csv(out / "results.csv")  # never a half-written table
    table = run_sweep(_cfg(tiny_dir, out, data_dir, variants_per_pass=1))
    after = {p.name: p.stat().st_mtime_ns for p in points.glob("*.json")}
    assert all(after[k] == v for k, v in before.items()), "finished points were recomputed"
    assert len(table) == 11 and not table.duplicated(["strategy", "n", "healed"]).any()
    clean = run_sweep(_cfg(tiny_dir, tmp_path / "clean", data_dir))
    pd.testing.assert_frame_equal(table[METRICS], clean[METRICS], atol=1e-5, rtol=0)


def test_a_write_cut_short_by_a_kill_adds_no_point(tmp_path):
    from layerprune.files import atomic_path
    store = ResultsStore(tmp_path)
    store.add("deepest-n001-raw", dict(strategy="deepest", n=1, healed=False))
    row = json.loads((store.points / "deepest-n001-raw.json").read_text())
    cut = []  # writes a SIGKILL stops after the text, before the rename (kept alive: closing one would clean up)
    for key, text in (("deepest-n002-raw", json.dumps(row | dict(n=2))), ("deepest-n003-raw", '{"strat')):
        cut.append(atomic_path(store.points / f"{key}.json"))
        cut[-1].__enter__().write_text(text)
    assert len(list(store.points.glob("*.json"))) == 3  # both temporary files are there, named *.json
    assert store.table()[["strategy", "n"]].values.tolist() == [["deepest", 1]]


def test_folder_of_other_settings_is_refused_before_loading(tiny_dir, tmp_path, data_dir, monkeypatch):
    run_sweep(_cfg(tiny_dir, tmp_path / "run", data_dir, ns=(1,)))
    import layerprune.sweep as sw
    monkeypatch.setattr(sw, "load_model", lambda *a, **k: pytest.fail("the settings check must come before loading"))
    with pytest.raises(ValueError, match=r"mmlu_limit: 2 there, 3 now.*another out_dir"):
        run_sweep(_cfg(tiny_dir, tmp_path / "run", data_dir, ns=(1,), mmlu_limit=3))
    monkeypatch.undo()
    grown = run_sweep(_cfg(tiny_dir, tmp_path / "run", data_dir, ns=(1, 2)))  # a larger grid resumes
    assert sorted(grown.n.tolist()) == [0, 1, 1, 2, 2]
