"Module rules (nbs/architecture.ipynb): the package's imports follow the allowed arrows, and no module uses another's private names."
import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "layerprune"
SKIP = {"__init__", "_modidx"}


def allowed_imports() -> dict[str, set[str]]:
    "{module: modules it may import}, read from the table of nbs/architecture.ipynb."
    nb = json.loads((ROOT / "nbs" / "architecture.ipynb").read_text())
    text = "".join("".join(c["source"]) + "\n" for c in nb["cells"] if c["cell_type"] == "markdown")
    rules = {}
    for line in text.splitlines():
        m = re.match(r"\|\s*`(\w+)`\s*\|([^|]*)\|", line)
        if m: rules[m[1]] = {"*"} if "every module" in m[2] else set(re.findall(r"`(\w+)`", m[2]))
    return rules


def modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(), str(p)) for p in sorted(PKG.glob("*.py")) if p.stem not in SKIP}


def package_imports(tree: ast.Module) -> list[tuple[str, str, int]]:
    "(module, name or '', line) for every import of a package module, anywhere in the file."
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 0 and not mod.startswith("layerprune"): continue
            mod = mod.removeprefix("layerprune").lstrip(".")
            for a in node.names:
                if mod: out.append((mod.split(".")[0], a.name, node.lineno))
                else: out.append((a.name, "", node.lineno))  # from layerprune import eval / from . import eval
        elif isinstance(node, ast.Import):
            out += [(a.name.split(".")[1], "", node.lineno) for a in node.names if a.name.startswith("layerprune.")]
    return out


def test_every_module_has_a_rule():
    assert set(modules()) == set(allowed_imports()), "nbs/architecture.ipynb's table and layerprune/*.py disagree"


def test_imports_follow_the_allowed_arrows():
    rules, mods = allowed_imports(), modules()
    bad = [f"{m}.py:{line} imports {dep}" for m, tree in mods.items() for dep, _, line in package_imports(tree)
           if dep in mods and dep != m and "*" not in rules[m] and dep not in rules[m]]
    assert not bad, "imports against nbs/architecture.ipynb: " + "; ".join(bad)


def private_uses(tree: ast.Module, own: str, mods: set[str]) -> list[str]:
    "Uses of another package module's `_name`: imported by name, or as an attribute of the module."
    found, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = (node.module or "").removeprefix("layerprune").lstrip(".")
            if node.level == 0 and not (node.module or "").startswith("layerprune"): continue
            for a in node.names:
                if not mod and a.name in mods: aliases[a.asname or a.name] = a.name
                elif mod and mod != own and a.name.startswith("_") and not a.name.startswith("__"):
                    found.append(f"{own}.py:{node.lineno} imports {mod}.{a.name}")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("layerprune.") and a.asname: aliases[a.asname] = a.name.split(".")[1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            v = node.value
            target = aliases.get(v.id) if isinstance(v, ast.Name) else (
                v.attr if isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id == "layerprune" else None)
            if target and target != own: found.append(f"{own}.py:{node.lineno} uses {target}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    mods = modules()
    bad = [u for m, tree in mods.items() for u in private_uses(tree, m, set(mods))]
    assert not bad, "; ".join(bad)


def test_the_checks_catch_what_they_should():
    "The parsers on small sources: an arrow against the rules and a private use are both seen."
    tree = ast.parse("from . import eval as E\nfrom .models import _x\nimport layerprune.zoo as Z\nE._check(1); Z._y\n"
                     "def f():\n    from layerprune.sweep import run_sweep\n")
    assert [(d, n) for d, n, _ in package_imports(tree)] == [("eval", ""), ("models", "_x"), ("zoo", ""), ("sweep", "run_sweep")]
    assert sorted(private_uses(tree, "plots", {"eval", "models", "zoo"})) == [
        "plots.py:2 imports models._x", "plots.py:4 uses eval._check", "plots.py:4 uses zoo._y"]
