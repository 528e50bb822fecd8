"""Commands that are written are commands that run (issue 15).

Every `layerprune ...`, `bash ...` and `papermill --help-notebook ...` line written in README.md's fenced code blocks,
in figures/run.sh (its comment examples too) and in the CLI's own help (the `layerprune --help` examples and the
`layerprune ...` spans of each command's `--help`) is one test case, its id the command itself:
- `layerprune X ...`: parsed by the real parser (`layerprune.cli.parse`), nothing runs; `--family`/`--families` must
  name a family of figures/params, `zoo fetch KEY` a zoo key. A bare `layerprune X` (a help text naming a command,
  e.g. "written by `layerprune distances`") only needs X to be a command.
- `bash SCRIPT ...`: the script exists and `bash -n` accepts it; `bash figures/run.sh ARGS` is run in a scratch copy
  with `tests/env.sh` and `layerprune` stubbed, and every `layerprune` line it would exec is parsed as above.
- `papermill --help-notebook NB`: the notebook exists and is JSON.
No model loads, no network.
"""
import contextlib, io, json, os, re, shlex, shutil, subprocess, sys
from pathlib import Path

import pytest

from layerprune import cli
from layerprune.zoo import LayerpruneError

ROOT = Path(__file__).resolve().parents[1]

# Placeholders a written command may use, and the realistic value the check substitutes (a whole word, or in a word).
PLACEHOLDERS = {"DIR": "some/dir", "FILE": "d.npz", "KEY": "smollm2-135m", "<family>": "smollm2-135m",
                "FAMILY": "smollm2-135m", "N": "8"}

STARTS = ("layerprune ", "bash ", "papermill ")


def _command(line: str) -> str | None:
    "`line` as a command this test checks (trailing comment and `exec` dropped), or None."
    s = line.strip()
    if s.startswith("exec "): s = s[5:].strip()
    if not s.startswith(STARTS) or "$" in s: return None  # a shell variable: not a written command
    return " ".join(shlex.split(s, comments=True))  # normalised: one space, no trailing `# ...`


def readme_commands(text: str | None = None) -> list[str]:
    "Command lines of the fenced code blocks of README.md and docs/results.md."
    text = "\n".join((ROOT / p).read_text() for p in ("README.md", "docs/results.md")) if text is None else text
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"): fenced = not fenced; continue
        if fenced and (c := _command(line)): out.append(c)
    return out


def run_sh_commands() -> list[str]:
    "Command lines of figures/run.sh: its comment examples (`#   bash figures/run.sh ...`) and its own lines."
    out = []
    for line in (ROOT / "figures" / "run.sh").read_text().splitlines():
        s = line.strip()
        if s.startswith("#!"): continue
        if s.startswith("#"): s = s.lstrip("#")
        if c := _command(s): out.append(c)
    return out


def _help(argv: list[str]) -> str:
    "What `layerprune *argv` prints for --help (the real parser's help)."
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        if argv == ["--help"]: cli.main(["--help"])
        else:
            with pytest.raises(SystemExit): cli.parse(argv)
    return buf.getvalue()


def help_commands() -> list[str]:
    "The `layerprune --help` examples, then the `layerprune ...` spans of each command's --help."
    top = _help(["--help"])
    m = re.search(r"^examples:\n((?:  .*\n?)+)", top, re.M)
    assert m, f"`layerprune --help` has no examples: section:\n{top}"
    out = [" ".join(l.split()) for l in m.group(1).splitlines() if l.strip()]
    for name in cli.COMMANDS:
        out += [" ".join(s.split()) for s in re.findall(r"`(layerprune\s[^`]*)`", _help([name, "--help"]))]
    return out


def _substitute(tokens: list[str]) -> list[str]:
    out = []
    for t in tokens:
        t = PLACEHOLDERS.get(t, t)
        for k, v in PLACEHOLDERS.items():
            if k.startswith("<"): t = t.replace(k, v)
        out.append(t)
    return out


def check_layerprune(argv: list[str]):
    "Raise (LayerpruneError, AssertionError) unless `layerprune *argv` gets past argument parsing."
    argv = _substitute([a for a in argv if a != "--debug"])  # --debug: main's global flag
    assert argv, "`layerprune` with no command"
    if len(argv) == 1 and not argv[0].startswith("-"):  # a help text naming a command
        assert argv[0] in cli.COMMANDS, f"no command {argv[0]!r}; commands: {', '.join(cli.COMMANDS)}"
        return
    f, kw = cli.parse(argv)
    # argparse takes unambiguous prefixes (`--profil` runs as --profile); written commands spell options in full
    opts = set(re.findall(r"(?<![\w-])--[\w-]+", _help([argv[0], "--help"])))
    short = [a.split("=")[0] for a in argv[1:] if a.startswith("--") and a.split("=")[0] not in opts]
    assert not short, f"options {short} are not spelled as `layerprune {argv[0]} --help` lists them: {sorted(opts)}"
    if f is cli.figures:
        known = cli.figure_families(ROOT / "figures")
        fams = [kw["family"]] if kw.get("family") else []
        fams += [x.strip() for x in (kw.get("families") or "").split(",") if x.strip()]
        bad = [x for x in fams if x not in known]
        assert not bad, f"unknown families {bad}; figures/params has {', '.join(known)}"
        assert fams or kw.get("all"), "`layerprune figures` without --family, --families or --all"
    if f is cli.zoo and kw.get("key"):
        from layerprune.zoo import ZOO
        assert kw["key"] in ZOO, f"no zoo key {kw['key']!r}; keys: {', '.join(ZOO)}"


def _run_sh_execs(args: list[str], tmp: Path) -> list[list[str]]:
    "The `layerprune` argv lists that `bash figures/run.sh *args` runs, in a scratch copy with layerprune stubbed."
    (tmp / "figures").mkdir(parents=True); (tmp / "tests").mkdir(); (tmp / "bin").mkdir()
    shutil.copy(ROOT / "figures" / "run.sh", tmp / "figures" / "run.sh")
    (tmp / "tests" / "env.sh").write_text("")  # the real one builds .venv
    log = tmp / "calls.jsonl"
    stub = tmp / "bin" / "layerprune"
    stub.write_text(f"#!{sys.executable}\nimport json, sys\nopen({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("LAYERPRUNE_DATA", None)  # so the script's `layerprune data fetch` line runs (stubbed) too
    r = subprocess.run(["bash", str(tmp / "figures" / "run.sh"), *args], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"bash figures/run.sh {shlex.join(args)}: exit {r.returncode}\n{r.stderr}"
    calls = [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []
    if {"-h", "--help"} & set(args):  # the script's own usage: printed, nothing run
        assert "figures/run.sh" in r.stdout and not calls, r.stdout
        return calls
    assert any(c[:1] == ["figures"] for c in calls), f"bash figures/run.sh {shlex.join(args)} ran no `layerprune figures`: {calls}"
    return calls


def check_command(line: str, tmp: Path):
    "Check one written command line; raise if it would not get past its argument parsing."
    words = shlex.split(line)
    prog, args = words[0], words[1:]
    if prog == "layerprune": return check_layerprune(args)
    if prog == "bash":
        assert args, "`bash` without a script"
        script = ROOT / args[0]
        assert script.is_file(), f"no script {args[0]}"
        r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert r.returncode == 0, f"bash -n {args[0]}: {r.stderr}"
        if args[0] == "figures/run.sh":
            for argv in _run_sh_execs(args[1:], tmp): check_layerprune(argv)
        else: assert not args[1:], f"{args[0]} takes no arguments here, got {args[1:]}"  # tests/run.sh etc.
        return
    if prog == "papermill":
        assert args[:1] == ["--help-notebook"] and len(args) == 2, f"unexpected papermill line: {line}"
        nb = ROOT / args[1]
        assert nb.is_file(), f"no notebook {args[1]}"
        json.loads(nb.read_text())
        return
    raise AssertionError(f"unknown program {prog!r}")


README, RUN_SH, HELP = (list(dict.fromkeys(f())) for f in (readme_commands, run_sh_commands, help_commands))  # each line once


def test_sources_found():
    "Each source yields commands (a parsing change in the test would otherwise check nothing)."
    assert len(README) >= 5 and any(c.startswith("bash figures/run.sh") for c in README), README
    assert len(RUN_SH) >= 2 and any(c.startswith("bash figures/run.sh") for c in RUN_SH), RUN_SH
    assert len(HELP) >= len(cli.EXAMPLES), HELP


@pytest.mark.parametrize("line", README, ids=README)
def test_readme_command(line, tmp_path): check_command(line, tmp_path)


@pytest.mark.parametrize("line", RUN_SH, ids=RUN_SH)
def test_run_sh_command(line, tmp_path): check_command(line, tmp_path)


@pytest.mark.parametrize("line", HELP, ids=HELP)
def test_help_command(line, tmp_path): check_command(line, tmp_path)


@pytest.mark.parametrize("line", [
    "layerprune data --action fetch",  # action is a word, not an option
    "layerprune zoo --bogus",  # no such option
    "layerprune zoo lst",  # no such action
    "layerprune zoo fetch no-such-model",  # no such zoo key
    "layerprune bogus --x 1",  # no such command
    "layerprune prune smollm2-135m --n 8",  # a required option missing (--out)
    "layerprune figures --family no-such-family",  # no such family
    "layerprune figures --famly smollm2-135m",  # a misspelt option
    "bash figures/run.sh smollm2-135m --bogus full",  # run.sh passes a bad option on to `layerprune figures`
    "bash figures/run.sh no-such-family",  # run.sh passes a bad family on
    "layerprune sweep smollm2-135m --profil cpu",  # argparse would take the prefix; a written command spells it out
    "bash figures/no-such.sh",  # no such script
])
def test_checker_catches_drift(line, tmp_path):
    "The checker fails on a subcommand, option, value or script that does not exist."
    with pytest.raises((LayerpruneError, AssertionError)): check_command(line, tmp_path)


def test_readme_parser_reads_fences():
    "Only fenced lines count; comments are stripped; shell-variable lines are skipped."
    text = "layerprune zoo --bogus\n```bash\nlayerprune zoo list   # offline models\nexec layerprune figures \"$@\"\n```\n"
    assert readme_commands(text) == ["layerprune zoo list"]
