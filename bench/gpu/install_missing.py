"""Install carried wheels into --target, skipping every distribution the machine's Python already has.

    python3 bench/gpu/install_missing.py --target $LP_BASE/site .gpu/pm/*.whl
"""
import argparse, importlib.metadata as md, re, subprocess, sys

p = argparse.ArgumentParser()
p.add_argument("--target", required=True)
p.add_argument("wheels", nargs="+")
a = p.parse_args()
have = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in md.distributions()}
todo = [w for w in a.wheels if re.sub(r"[-_.]+", "-", w.rsplit("/", 1)[-1].split("-")[0]).lower() not in have]
print(f"{len(a.wheels) - len(todo)} already present; installing {len(todo)}:", " ".join(w.rsplit('/', 1)[-1].split('-')[0] for w in todo))
if todo: subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", a.target, *todo], check=True)
