#!/usr/bin/env bash
# The l*(n) stability study (layerprune.stability, beyond the paper) of each model named: papermill runs
# figures/stability.ipynb into records/<model><suffix>/ (table, figures, the executed notebook as the record).
# By default it covers the settings of the model's committed runs records/<model>{,-full}: their distance_len, and
# the whole C4 distances role when one of them used it (a GPU job: one forward pass per length and source).
#   bash figures/stability.sh qwen2.5-coder-1.5b qwen2.5-coder-0.5b    # H200: ~1-2 min per model (3 passes of 194 docs)
#   # the GPU job of the record (data in $LP_DATA with c4/ and wiki/, models in $LAYERPRUNE_HOME/models):
#   LAYERPRUNE_DATA=$LP_DATA bash figures/stability.sh qwen2.5-coder-1.5b qwen2.5-coder-0.5b && \
#     STABILITY_SUFFIX=-stability-full LAYERPRUNE_DATA=$LP_DATA bash figures/stability.sh smollm2-135m gemma3-270m && \
#     cp -r records/*-stability* "$OUT/"
#   STABILITY_PARAMS='{docs: 64, lengths: [256, 128], sizes: [8, 16, 32, 64]}' bash figures/stability.sh smollm2-135m   # a CPU budget
#   STABILITY_SUFFIX=-stability-full bash figures/stability.sh smollm2-135m   # a second record beside a CPU one
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
for m in "$@"; do
  name=$(basename "$m" | tr '[:upper:]' '[:lower:]')
  out="records/$name${STABILITY_SUFFIX:--stability}"
  mkdir -p "$out"
  start=$SECONDS
  papermill figures/stability.ipynb "$out/stability.ipynb" -p model "$m" -p name "$name" -p out_dir "$out" \
    -y "${STABILITY_PARAMS:-{\}}" --no-progress-bar --log-level WARNING
  echo "== $name: $out in $((SECONDS - start)) s"
done
