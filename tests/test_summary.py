"bench/summary.json is what bench/summary.py builds from the committed raw records, and the README's table is made from it."
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_summary():
    spec = importlib.util.spec_from_file_location("summary", ROOT / "bench" / "summary.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_summary_json_is_built_from_the_raw_records():
    sm = load_summary()
    committed = json.loads((ROOT / "bench" / "summary.json").read_text())
    assert committed == json.loads(sm.dumps(sm.build())), "bench/summary.json is stale: run `python bench/summary.py --write`"


def test_readme_table_is_made_from_summary_json():
    sm = load_summary()
    committed = json.loads((ROOT / "bench" / "summary.json").read_text())
    assert sm.readme_block((ROOT / "README.md").read_text()) == sm.table(committed), \
        "README.md's performance table is stale: run `python tools/readme.py`"


def test_every_benchmark_has_its_fields_and_a_record_or_a_reason():
    sm = load_summary()
    entries = sm.build()["benchmarks"]
    assert {e["benchmark"] for e in entries} >= {"P1", "P2", "P3", "P4", "P5", "P6", "paper scale", "precision"}
    for e in entries:
        assert {"what", "goal", "date", "raw_record", "value", "met", "status"} <= set(e)
        if e["value"] is None: assert e["status"] != "measured" and e["met"] is None
        else:
            assert (ROOT / e["raw_record"]).is_file() and e["date"] and e["model"] and e["machine"] and e["command"]
            assert not any(d in e["command"] for d in ("/root/", "/opt/", "/tmp/", "/home/")), e["command"]


def test_goal_is_checked_against_the_value(tmp_path, monkeypatch):
    sm = load_summary()
    rec = tmp_path / "r.json"
    rec.write_text(json.dumps(dict(seconds=601.0, exit=0, cpu="x", cores=2, load_1min=1.0, command="bash bench/p5_main_job.sh", date="2026-12-01")))
    monkeypatch.setattr(sm, "ROOT", tmp_path)
    e = sm.entry("P5 main job", "P5", "seconds", "r.json", sm.p5_json, ("<=", 600), None)
    assert (e["value"], e["met"], e["date"], e["goal"]) == (601.0, False, "2026-12-01", "<= 600")
    assert sm.entry("P5 main job", "P5", "seconds", "absent.json", sm.p5_json, ("<=", 600), None)["met"] is None


def test_portable_commands_and_markers():
    sm = load_summary()
    assert sm.portable("bench/eval.py --model /root/lphome/models/q --data /root/lpdata --lmeval-python /opt/torch/.venv/bin/python3 "
                       "--out /root/runs/perf/p3.json") == \
        "python3 bench/eval.py --model $LAYERPRUNE_HOME/models/q --data $LP_DATA --lmeval-python python3 --out $LP_RUNS/perf/p3.json"
    assert sm.portable("python3 bench/eval.py --model /root/lp/home/models/q --data /root/lp/data --out /tmp/x7/out/p3_20/p3.json") == \
        "python3 bench/eval.py --model $LAYERPRUNE_HOME/models/q --data $LP_DATA --out $LP_RUNS/p3_20/p3.json"
    with pytest.raises(ValueError, match="markers"): sm.readme_block("# no table")


def test_p3_goal_needs_the_answers_within_near_ties(tmp_path, monkeypatch):
    sm = load_summary()
    lm = dict(speedup_of_ours=dict(wall=12.0), agreement_with_ours=0.9, disagreements_beyond_near_ties={"0.125": 9, "0.5": 0})
    rec = dict(model="$LAYERPRUNE_HOME/models/m", machine=dict(cuda="H200", cpu="x86_64"), command="bench/eval.py",
               n_mmlu=3, date="2026-12-01", lmeval_hendrycks_prompt=lm)
    monkeypatch.setattr(sm, "ROOT", tmp_path)
    (tmp_path / "ok.json").write_text(json.dumps(rec))
    lm["disagreements_beyond_near_ties"] = {"0.125": 9, "0.5": 2}
    (tmp_path / "far.json").write_text(json.dumps(rec))
    ok, far = (sm.entry("P3", "P3", "x", f, sm.eval_json, (">=", 10), None) for f in ("ok.json", "far.json"))
    assert (ok["value"], ok["met"], ok["beyond_near_ties"]) == (12.0, True, dict(nats=0.5, answers=0))
    assert (far["value"], far["met"], far["beyond_near_ties"]) == (12.0, False, dict(nats=0.5, answers=2))
    rows = sm.table(dict(benchmarks=[ok, far])).splitlines()[2:]
    assert [r.split(" | ")[2] for r in rows] == ["12", "12 (2 answers beyond 0.5 nat)"]
    assert [r.split(" | ")[4] for r in rows] == ["yes", "**no**"]
