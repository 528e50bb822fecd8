# Sourced by tests/run.sh and figures/run.sh: create .venv (once) with the CPU build of torch and
# layerprune with its dev extras, then activate it. Safe to run again: pip skips what is there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x "$root/.venv/bin/python" ]; then
  python3 -m venv "$root/.venv"
fi
# shellcheck disable=SC1091
source "$root/.venv/bin/activate"
if ! python -c "import layerprune, nbdev, torch" 2>/dev/null || [ "${LAYERPRUNE_REINSTALL:-0}" = 1 ]; then
  python -m pip install -q --upgrade pip
  # The CPU build first: a plain `torch` requirement would pull a multi-GB CUDA build.
  python -m pip install -q "torch==2.13.0" || python -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
  python -m pip install -q -e "$root[dev,hub]"
fi
export TOKENIZERS_PARALLELISM=false
