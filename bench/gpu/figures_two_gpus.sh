# Issue 18 run 4: `layerprune figures --families A,B --gpus 0,1` (two families at once, one per GPU) on a scratch
# copy of figures/ (family.ipynb + params) with a small budget, then each family alone on one GPU (the GPUs
# swapped, both at once), and the results.csv of each family compared between the two (timings left out).
#   bash bench/gpu/figures_two_gpus.sh OUT DATA [FAMILIES] [PROFILE] [PARAMS_JSON]
# FAMILIES defaults to smollm2-135m,qwen2.5-coder-1.5b (both converted into $LAYERPRUNE_HOME first), PROFILE to gpu,
# PARAMS_JSON to the small budget below. CPU check (no --gpus there: the families one after the other):
#   LP_CPU=1 bash bench/gpu/figures_two_gpus.sh OUT ../shared/data smollm2-135m tiny '{"device": "cpu"}'
#   LP_COMPARE_ONLY=1 bash bench/gpu/figures_two_gpus.sh OUT DATA     # the compare step alone, on OUT/{both,alone}
# Writes OUT/figures_compare.json; the run folders are OUT/both/<family>/ and OUT/alone/<family>/.
set -u
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
export CUBLAS_WORKSPACE_CONFIG=:4096:8   # deterministic cuBLAS from the first handle on (heal runs deterministic)
OUT=${1:?OUT DATA [FAMILIES] [PROFILE] [PARAMS_JSON]}; DATA=${2:?OUT DATA}
FAMS=${3:-smollm2-135m,qwen2.5-coder-1.5b}; PROFILE=${4:-gpu}
SMALL='{"device": "cuda", "ns": [0.25, 0.5], "heal_ns": [0.25], "mmlu_limit": 5, "boolq_limit": 200, "c4_blocks": 8, "c4_len": 512, "distance_docs": 64, "heal_overrides": {"steps": 10, "seq_len": 512, "micro_batch": 4, "warmup_steps": 2}}'
PARAMS=$(python3 -c "import json, sys; p = {**json.loads(sys.argv[1]), **json.loads(sys.argv[2])}; p['data_dir'] = sys.argv[3]; print(json.dumps(p))" "$SMALL" "${5:-{\}}" "$(cd "$DATA" && pwd)")
LP="python3 -c 'from layerprune.cli import main; main()' figures"
scratch() { rm -rf "$1"; mkdir -p "$1/params"; cp figures/family.ipynb "$1/"; for f in ${FAMS//,/ }; do cp "figures/params/$f.yaml" "$1/params/"; done; }
mkdir -p "$OUT"
if [ "${LP_COMPARE_ONLY:-0}" != 1 ]; then  # LP_COMPARE_ONLY=1: only the compare step, on run folders already there
scratch "$OUT/both"; scratch "$OUT/alone"
echo "== $(date -u +%H:%M:%S) params $PARAMS"
if [ "${LP_CPU:-0}" = 1 ]; then
  eval "$LP --families $FAMS --figures-dir $OUT/both --records-dir $OUT/both --profile $PROFILE --no-cross-family --params '$PARAMS'" > "$OUT/both.log" 2>&1
  echo "both: exit $?"
  for f in ${FAMS//,/ }; do eval "$LP --family $f --figures-dir $OUT/alone --records-dir $OUT/alone --profile $PROFILE --no-cross-family --params '$PARAMS'" > "$OUT/alone.$f.log" 2>&1; echo "alone $f: exit $?"; done
else
  t0=$SECONDS
  eval "$LP --families $FAMS --gpus 0,1 --figures-dir $OUT/both --records-dir $OUT/both --profile $PROFILE --no-cross-family --params '$PARAMS'" > "$OUT/both.log" 2>&1
  echo "both (--gpus 0,1): exit $?, $((SECONDS - t0)) s"; t0=$SECONDS
  i=0; pids=""; fams=(${FAMS//,/ })
  for f in "${fams[@]}"; do  # alone: family k on GPU (k+1) mod 2, i.e. the GPUs swapped, both at once
    CUDA_VISIBLE_DEVICES=$(( (i + 1) % 2 )) bash -c "$LP --family $f --figures-dir $OUT/alone --records-dir $OUT/alone --profile $PROFILE --no-cross-family --params '$PARAMS'" > "$OUT/alone.$f.log" 2>&1 &
    pids="$pids $!"; i=$((i + 1))
  done
  for p in $pids; do wait "$p"; echo "alone pid $p: exit $?"; done; echo "alone: $((SECONDS - t0)) s"
fi
fi
python3 - "$OUT" "$FAMS" <<'PY'
import json, sys
from pathlib import Path
import pandas as pd
out, fams = Path(sys.argv[1]), sys.argv[2].split(",")
skip = lambda c: any(w in c.lower() for w in ("second", "time", "date", "finished", "started", "wall", "tokens_per_s", "path", "dir"))
res = {}
for f in fams:
    a, b = out / "both" / f / "results.csv", out / "alone" / f / "results.csv"
    if not (a.exists() and b.exists()): res[f] = dict(error=f"missing {a if not a.exists() else b}"); continue
    A, B = pd.read_csv(a), pd.read_csv(b)
    for df, where in ((A, "both"), (B, "alone")):  # the run folder's path (in `settings`) differs by design
        for c in [c for c in df.columns if pd.api.types.is_string_dtype(df[c])]:
            df[c] = df[c].str.replace(r"[^\s\"']*/(both|alone)/", "<scratch>/", regex=True)
    cols = [c for c in A.columns if not skip(c)]
    key = [c for c in ("strategy", "n", "healed") if c in cols]
    A, B = A.sort_values(key).reset_index(drop=True), B.sort_values(key).reset_index(drop=True)
    num = [c for c in cols if c in B and pd.api.types.is_numeric_dtype(A[c]) and not pd.api.types.is_bool_dtype(A[c])]
    d = {c: float((A[c].astype(float) - B[c].astype(float)).abs().max()) for c in num} if len(A) == len(B) else {}
    diff = {c: v for c, v in d.items() if v > 0}
    same = len(A) == len(B) and list(A.columns) == list(B.columns) and A[cols].equals(B[cols])
    res[f] = dict(rows=(len(A), len(B)), columns_compared=len(cols), identical=bool(same), numeric_max_abs_diff=diff,
                  ignored=[c for c in A.columns if skip(c)])
summary = dict(run="issue 18 run 4: figures --gpus 0,1 vs each family alone", families=fams, compare=res,
               ok=all(r.get("identical") for r in res.values()))
(out / "figures_compare.json").write_text(json.dumps(summary, indent=1))
print(json.dumps(summary, indent=1))
PY
