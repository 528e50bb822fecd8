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
    (["sweep", "m", "--heal-ns", "0"], "--heal-ns '0'"),
    (["sweep", "m", "--strategies", "random"], "--strategies 'random': choose from similarity, deepest"),
    (["sweep", "m", "--profile", "huge"], "--profile 'huge'"),
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


def test_failed_figures_run_keeps_the_good_notebook(tmp_path):
    import nbformat
    fdir = tmp_path / "figures"; (fdir / "params").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("fail = False\nout_dir = None"); p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell("assert not fail, 'boom'\nprint('ok')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, fdir / "family.ipynb")
    (fdir / "params" / "x.yaml").write_text("fail: false\n")
    args = ["figures", "--family", "x", "--figures-dir", str(fdir), "--no-cross-family"]
    main(args)
    good = (fdir / "x" / "family.ipynb").read_text()
    with pytest.raises(SystemExit, match="failed in cell .*AssertionError: boom.*family.failed.ipynb"):
        main(args + ["--params", '{"fail": true}'])
    assert (fdir / "x" / "family.ipynb").read_text() == good
    assert "boom" in (fdir / "x" / "family.failed.ipynb").read_text()
