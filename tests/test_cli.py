import json, re, shlex, subprocess, sys
from pathlib import Path

import pytest

from layerprune import cli
from layerprune.cli import main, parse

ROOT = Path(__file__).resolve().parents[1]


# The written commands (README, figures/run.sh, CLI help) are checked one by one in tests/test_commands.py.


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_help(name, capsys):
    with pytest.raises(SystemExit) as e: main([name, "--help"])
    assert e.value.code == 0 and f"layerprune {name}" in capsys.readouterr().out


def test_positional_verbs():
    assert parse(["zoo", "list"])[1] == {"action": "list", "key": None}
    assert parse(["zoo", "fetch", "gemma3-270m"])[1] == {"action": "fetch", "key": "gemma3-270m"}
    assert parse(["data", "fetch"])[1] == {"action": "fetch"}
    with pytest.raises(cli.LayerpruneError, match="invalid choice: 'lst'"): parse(["zoo", "lst"])


def test_one_line_error_exit_2_and_debug_traceback():
    run = lambda *a: subprocess.run([sys.executable, "-c", "from layerprune.cli import main; main()", *a],
                                    capture_output=True, text=True)
    r = run("eval", "smollm2-135m", "--k", "-1")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert r.stderr.startswith("layerprune eval: error: --k -1: MMLU shots must be 0..5")
    r = run("--debug", "eval", "smollm2-135m", "--k", "-1")
    assert r.returncode != 0 and "Traceback" in r.stderr


BAD = [  # (argv, message): each refused before any data or model loads
    (["eval", "m", "--k", "-1"], "--k -1: MMLU shots must be 0..5"),
    (["eval", "m", "--mmlu-limit", "0"], "--mmlu-limit 0: must be at least 1"),
    (["eval", "m", "--boolq-limit", "0"], "--boolq-limit 0: must be at least 1"),
    (["eval", "m", "--tasks", "mmlu,gsm8k"], "unknown ['gsm8k']"),
    (["eval", "m", "--dtype", "fp8"], "--dtype 'fp8': choose one of"),
    (["eval", "m", "--adapter", "/nonexistent/adapter"], "--adapter /nonexistent/adapter: no such folder"),
    (["eval", "m", "--out", "/nonexistent/r.json"], "the folder /nonexistent does not exist"),
    (["eval", "m", "--device", "gpu0"], "is not a device"),
    (["sweep", "m", "--ns", "abc"], "--ns 'abc': 'abc' is not a block size"),
    (["sweep", "m", "--ns", ""], "--ns '': give at least one block size"),
    (["sweep", "m", "--ns", "1,-2"], "'-2' is not a block size"),
    (["sweep", "m", "--out-dir", "README.md"], "--out-dir README.md is a file: give a folder"),
    (["distances", "m", "--out", "tests"], "--out tests is a folder: give a file name, e.g. tests/distances.npz"),
    (["eval", "m", "--out", "tests"], "--out tests is a folder: give a file name"),
    (["sweep", "m", "--heal-ns", "0"], "--heal-ns '0'"),
    (["sweep", "m", "--strategies", "random"], "--strategies 'random': choose from similarity, deepest"),
    (["sweep", "m", "--profile", "huge"], "--profile 'huge'"),
    (["sweep", "m", "--mmlu-k", "7"], "--mmlu-k 7: MMLU shots must be 0..5"),
    (["sweep", "m", "--c4-len", "1"], "--c4-len 1: give a whole number of at least 2"),
    (["sweep", "m", "--heal-profile", "huge"], "--heal-profile 'huge'"),
    (["sweep", "m", "--heal-overrides", "[10]"], "--heal-overrides '[10]': give a JSON object"),
    (["sweep", "m", "--dtype", "fp8"], "--dtype 'fp8': choose one of auto, float32"),
    (["sweep", "m", "--block-choice", "median"], "--block-choice 'median': choose mean or bootstrap"),
    (["heal", "m", "--out", "h", "--lr", "-0.001"], "--lr -0.001: the learning rate must be > 0"),
    (["heal", "m", "--out", "h", "--steps", "0"], "--steps 0: must be at least 1"),
    (["heal", "m", "--out", "h", "--quantize", "int8"], "--quantize 'int8'"),
    (["distances", "m", "--docs", "0"], "--docs 0: must be at least 1"),
    (["prune", "m", "--n", "2", "--out", "p"], "--strategy similarity needs --distances"),
    (["prune", "m", "--n", "0", "--out", "p", "--strategy", "deepest"], "--n 0: must be at least 1"),
    (["prune", "m", "--n", "2", "--out", "p", "--distances", "/nonexistent.npz"], "no such file"),
    (["figures", "--family", "smollm2-135m", "--params", "{bad json"], "--params is not valid JSON"),
    (["figures", "--family", "smollm2-135m", "--params", '{"stratgies": ["deepest"]}'], "did you mean 'strategies'?"),
    (["figures", "--family", "smollm2-135m", "--params", '{"mmlu_limit": "64"}'], "expects a int"),
    (["zoo", "fetch", "smolm2-135m"], "did you mean smollm2-135m?"),
    (["evaluate", "m"], "Unknown command 'evaluate'; did you mean eval?"),
    (["prune", "m", "8"], "the following arguments are required: --out, --n"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_argument_refused_before_loading(argv, message, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    def no(*a, **k): raise AssertionError("loaded something before checking the arguments")
    import layerprune.data as D, layerprune.healing as H, layerprune.sweep as S
    for mod, name in [(cli, "_load"), (D, "load_c4"), (D, "load_mmlu"), (D, "load_boolq"), (H, "heal"), (S, "run_sweep"),
                      (cli, "execute_notebook")]:
        monkeypatch.setattr(mod, name, no)
    with pytest.raises(SystemExit) as e: main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count("\n") == 1, err


def test_prune_checks_n_against_config_and_refuses_nonempty_out(tmp_path, smollm2_dir, monkeypatch, capsys):
    from layerprune.models import tiny_checkpoint, load_config
    ck = tiny_checkpoint(tmp_path / "tiny", smollm2_dir, n_layers=4)
    monkeypatch.setattr(cli, "_load", lambda *a: (_ for _ in ()).throw(AssertionError("weights loaded")))
    for n, msg in [("4", "--n 4: "), ("9", "valid n is 1..3")]:
        with pytest.raises(SystemExit, match=msg): main(["prune", str(ck), "--n", n, "--strategy", "deepest", "--out", str(tmp_path / "p")])
    with pytest.raises(SystemExit, match="--start 3 --n 2"):
        main(["prune", str(ck), "--n", "2", "--start", "3", "--out", str(tmp_path / "p")])
    monkeypatch.undo()
    out = tmp_path / "p"
    main(["prune", str(ck), "--n", "1", "--strategy", "deepest", "--out", str(out)])
    assert load_config(str(out)).num_hidden_layers == 3
    with pytest.raises(SystemExit, match="is not empty: give a new folder, or --force"):
        main(["prune", str(ck), "--n", "2", "--strategy", "deepest", "--out", str(out)])
    main(["prune", str(ck), "--n", "2", "--strategy", "deepest", "--out", str(out), "--force"])
    assert load_config(str(out)).num_hidden_layers == 2 and not list(tmp_path.glob(".p.tmp-*"))


def test_heal_short_run_clips_warmup_and_reports_tokens_per_s(monkeypatch, capsys):
    import layerprune.data as D, layerprune.healing as H, layerprune.models as M, layerprune.zoo as Z
    from types import SimpleNamespace
    seen = {}
    monkeypatch.setattr(D, "load_c4", lambda *a, **k: [f"doc {i}" for i in range(100)])
    monkeypatch.setattr(Z, "resolve_model", lambda m: m)
    monkeypatch.setattr(M, "load_tokenizer", lambda src: None)
    def heal(src, text, cfg, **kw):
        seen["cfg"] = cfg
        return SimpleNamespace(metadata=dict(val_loss_before=3.0, val_loss_after=2.5, tokens_per_s=1234.5))
    monkeypatch.setattr(H, "heal", heal)
    main(["heal", "pruned", "--family", "smollm2-135m", "--profile", "cpu", "--steps", "2", "--out", "h", "--device", "cpu"])
    assert (seen["cfg"].steps, seen["cfg"].warmup_steps) == (2, 2)  # the profile's 3 warm-up steps clipped to 2
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["tokens_per_s"] == 1234.5
    with pytest.raises(SystemExit, match="--warmup-steps 5: at most --steps"):
        main(["heal", "pruned", "--family", "smollm2-135m", "--profile", "cpu", "--steps", "2", "--warmup-steps", "5", "--out", "h"])


def test_figures_params_string_is_one_strategy():
    assert cli.notebook_params('{"strategies": "deepest"}', ROOT / "figures" / "family.ipynb") == {"strategies": ["deepest"]}


def test_sweep_options_are_sweepconfigs_fields():
    "`layerprune sweep` has an option per SweepConfig field, with the field's comment as its help, and builds the same config."
    from layerprune.sweep import config_fields
    f, kw = parse(["sweep", "m", "--profile", "tiny", "--ns", "1,0.5", "--heal-ns", "", "--strategies", "deepest",
                   "--mmlu-subjects", "anatomy", "--c4-len", "16", "--heal-overrides", '{"steps": 3}', "--naive"])
    cfg = cli.sweep_config(**kw)
    assert (cfg.ns, cfg.heal_ns, cfg.strategies, cfg.mmlu_subjects, cfg.c4_len, cfg.heal_overrides, cfg.fast) == (
        (1, 0.5), (), ("deepest",), ("anatomy",), 16, {"steps": 3}, False)
    assert cli.sweep_config(**parse(["sweep", "m"])[1]) == cli.sweep_config("m")  # the parser's defaults are the fields'
    fields = {f.name: f.doc for f in config_fields() if f.name not in ("model", "fast")}
    opts = {p.name: p for p in cli.sweep_options()}
    assert set(opts) == set(fields) | {"naive"}
    assert all(p.annotation.__metadata__[0].startswith(fields[n]) for n, p in opts.items() if n != "naive")  # the field's words


def test_figures_params_are_sweepconfigs_fields():
    "The family notebook's parameters (what --params and the YAML files are checked against) are SweepConfig's fields."
    import papermill as pm
    from layerprune.sweep import config_fields, NOTEBOOK_FIELDS
    known = pm.inspect_notebook(str(ROOT / "figures" / "family.ipynb"))
    fields = [*config_fields(), *NOTEBOOK_FIELDS]
    assert list(known) == [f.name for f in fields]
    assert [known[f.name]["inferred_type_name"] for f in fields] == [f.kind.__name__ for f in fields]
    assert [known[f.name]["help"] for f in fields] == [f.doc for f in fields]
    nb = ROOT / "figures" / "family.ipynb"
    assert cli.notebook_params('{"block_choice": "bootstrap", "variants_per_pass": 4}', nb) == {"block_choice": "bootstrap", "variants_per_pass": 4}
    with pytest.raises(cli.LayerpruneError, match="has no parameter 'progress'; did you mean 'progress_file'"):
        cli.notebook_params('{"progress": false}', nb)


def _tiny_notebook(path: Path, parameters: str, body: str):
    "A two-cell papermill notebook at `path`: a `parameters` cell, then `body`; its folder gets a params/ beside it."
    import nbformat
    (path.parent / "params").mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(parameters); p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_failed_figures_run_keeps_the_good_notebook(tmp_path):
    fdir = tmp_path / "figures"
    _tiny_notebook(fdir / "family.ipynb", "fail = False\nout_dir = None", "assert not fail, 'boom'\nprint('ok')")
    (fdir / "params" / "x.yaml").write_text("fail: false\n")
    args = ["figures", "--family", "x", "--figures-dir", str(fdir), "--no-cross-family"]
    main(args)
    rec = tmp_path / "records" / "x"  # the record goes to records/ beside the figures folder
    good = (rec / "family.ipynb").read_text()
    with pytest.raises(SystemExit, match="failed in cell .*AssertionError: boom.*family.failed.ipynb"):
        main(args + ["--params", '{"fail": true}'])
    assert (rec / "family.ipynb").read_text() == good
    assert "boom" in (rec / "family.failed.ipynb").read_text()


def _family_dir(tmp_path, yaml_text: str) -> Path:
    "A figures folder with the real family notebook and one family `x` whose params file is `yaml_text`."
    import shutil
    fdir = tmp_path / "figures"; (fdir / "params").mkdir(parents=True)
    shutil.copy(ROOT / "figures" / "family.ipynb", fdir / "family.ipynb")
    (fdir / "params" / "x.yaml").write_text(yaml_text)
    return fdir


@pytest.mark.parametrize("yaml_text,message", [
    ("model: smollm2-135m\nmmlu_limt: 5\n", "x.yaml: figures/family.ipynb has no parameter 'mmlu_limt'; did you mean 'mmlu_limit'?"),
    ("model: smollm2-135m\nmmlu_limit: five\n", "x.yaml: mmlu_limit = 'five' is a str; figures/family.ipynb expects a int"),
    ("model: smollm2-135m\nns: [1, 2\n", "x.yaml line 3: not valid YAML"),
    ("- smollm2-135m\n", "x.yaml: give `name: value` lines (a YAML mapping), not a list"),
], ids=["unknown key", "wrong type", "bad yaml", "not a mapping"])
def test_family_params_yaml_checked_before_anything_runs(yaml_text, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "execute_notebook", lambda *a: (_ for _ in ()).throw(AssertionError("the notebook ran")))
    _family_dir(tmp_path, yaml_text)
    with pytest.raises(SystemExit) as e: main(["figures", "--family", "x", "--no-cross-family"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count("\n") == 1, err


def test_empty_family_params_yaml_is_the_notebook_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ran = []
    monkeypatch.setattr(cli, "execute_notebook", lambda nb, out, p: ran.append(p))
    _family_dir(tmp_path, "# nothing set\n")
    main(["figures", "--family", "x", "--no-cross-family"])
    assert len(ran) == 1 and set(ran[0]) <= {"out_dir", "progress_file"}


def test_check_against_a_damaged_record_names_the_file(tmp_path, capsys):
    from layerprune.sweep import ResultsStore
    run, rec = ResultsStore(tmp_path / "run"), ResultsStore(tmp_path / "rec")
    for st in (run, rec): st.add("none-n000-raw", dict(strategy="none", n=0, healed=False))
    (rec.points / "none-n000-raw.json").write_text('{"strategy": "no')  # truncated
    with pytest.raises(SystemExit) as e: main(["check", str(run.dir), str(rec.dir)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"{rec.points / 'none-n000-raw.json'} is damaged (not valid JSON" in err and err.count("\n") == 1


def test_model_folder_without_config_is_refused(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "model"; empty.mkdir(); (empty / "model.safetensors").write_bytes(b"")
    monkeypatch.setattr(cli, "_load", lambda *a: (_ for _ in ()).throw(AssertionError("weights loaded")))
    with pytest.raises(SystemExit) as e: main(["prune", str(empty), "--n", "1", "--strategy", "deepest", "--out", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "the folder has no config.json, so it is not a checkpoint" in err and err.count("\n") == 1


def test_mixed_fractions_and_counts_in_ns():
    from layerprune.sweep import layer_counts
    f, kw = parse(["sweep", "m", "--ns", "1,0.5, 3"])
    ns = cli._numbers("ns", kw["ns"])
    assert ns == [1, 0.5, 3] and layer_counts(ns, 6) == [1, 3]  # 0.5 of 6 layers is 3: counted once
    assert layer_counts([0.25, 1.0], 8) == [1, 2]  # 1.0 is one layer, not the whole model
    with pytest.raises(ValueError, match="1.5 is not a block size for a model of 6 layers"): layer_counts([1.5], 6)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without a GPU")
@pytest.mark.parametrize("argv", [["sweep", "m", "--device", "cuda"], ["eval", "m", "--device", "cuda:0"],
                                  ["heal", "m", "--out", "h", "--device", "cuda"]])
def test_cuda_device_without_gpu_is_refused(argv, capsys):
    with pytest.raises(SystemExit) as e: main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--device " in err and "no CUDA GPU is visible here; use cpu or auto" in err


@pytest.mark.parametrize("err,fix", [(__import__("errno").EROFS, "choose a writable folder"),
                                     (__import__("errno").EACCES, "fix the permissions"),
                                     (__import__("errno").ENOSPC, "free disk space")])
def test_system_write_errors_are_one_line_with_the_fix(err, fix, monkeypatch, capsys):
    import os
    def read_only(action: str = "fetch"): raise OSError(err, os.strerror(err), "out/points/x.json")
    monkeypatch.setitem(cli.COMMANDS, "data", read_only)
    with pytest.raises(SystemExit) as e: main(["data", "fetch"])
    line = capsys.readouterr().err
    assert e.value.code == 2 and line.count("\n") == 1 and "out/points/x.json" in line and f"To fix: {fix}" in line
    def bug(action: str = "fetch"): raise OSError(22, "Invalid argument")
    monkeypatch.setitem(cli.COMMANDS, "data", bug)
    with pytest.raises(OSError): main(["data", "fetch"])  # other OS errors may be bugs: the traceback stays


def test_figures_family_with_its_own_notebook_and_parts(tmp_path):
    fdir = tmp_path / "figures"
    _tiny_notebook(fdir / "abl.ipynb", "part = 'all'\nout_dir = None\nfigures_dir = None\nrecords_dir = None\nprogress_file = None",
                   "from pathlib import Path\nPath(out_dir, f'ran-{part}').write_text(f'{figures_dir} {records_dir}')")
    (fdir / "params" / "x-abl.yaml").write_text("notebook: abl.ipynb\npart: all\n")
    rdir = tmp_path / "runs"
    main(["figures", "--family", "x-abl", "--figures-dir", str(fdir), "--records-dir", str(rdir), "--params", '{"part": "seeds"}'])
    out = rdir / "x-abl"
    assert (out / "abl.seeds.ipynb").exists() and (out / "progress.seeds.log").exists() and not (out / "abl.ipynb").exists()
    assert (out / "ran-seeds").read_text() == f"{fdir} {rdir}"  # the notebook finds params/ and the base runs
    main(["figures", "--family", "x-abl", "--figures-dir", str(fdir), "--records-dir", str(rdir)])
    assert (out / "abl.ipynb").exists() and (out / "ran-all").exists()
    assert not (rdir / "cross-family").exists()  # a family with its own notebook adds no results.csv to draw across
    assert sorted(p.name for p in fdir.iterdir()) == ["abl.ipynb", "params"]  # nothing of the run beside the notebooks


def test_eval_out_keeps_finished_tasks_when_a_later_one_crashes(tmp_path, monkeypatch):
    "`eval --out` rewrites its JSON atomically after each task: a crash in BoolQ leaves MMLU's result whole, and no temp file."
    from layerprune import eval as E
    class Result:
        def __init__(self, **kw): self.kw = kw
        def to_row(self): return self.kw
    monkeypatch.setattr(cli, "_eval_data", lambda ts, data_dir, seed: {"mmlu": ([], []), "boolq": []})
    monkeypatch.setattr(cli, "_load", lambda *a: (None, None, None))
    monkeypatch.setattr(E, "mmlu_eval", lambda *a, **k: Result(accuracy=0.5, n=4))
    def crash(*a, **k): raise RuntimeError("boom in boolq")
    monkeypatch.setattr(E, "boolq_eval", crash)
    out = tmp_path / "eval.json"
    out.write_text('{"old": 1}')
    with pytest.raises(RuntimeError, match="boom"): main(["eval", "m", "--tasks", "mmlu,boolq", "--out", str(out), "--debug"])
    assert json.loads(out.read_text()) == {"mmlu": {"accuracy": 0.5, "n": 4}}
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]
