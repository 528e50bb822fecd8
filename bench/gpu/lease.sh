# One GPU lease, one step per `device` call: the mechanics every lease repeats (bench/gpu/README.md, "The procedure").
#   bash bench/gpu/lease.sh STEP [ARG...]
# Steps:
#   setup            install the carried wheels (.gpu/wheels*/*.whl; .gpu/lmA, .gpu/pm only what the image lacks) into
#                    $LP_BASE/site, first on PYTHONPATH; unpack .gpu/data/data.tgz into $LP_BASE/data; copy .gpu/tok/
#                    (a tokenizer's files) to $LP_BASE/tok; print the versions and nvidia-smi
#   chunk            move the carried chunks .gpu/<name>/<file>.NN into $LP_BASE/chunks
#   model KEY NAME   assemble $LP_BASE/chunks/NAME.gguf.NN, then zoo.fetch(KEY, gguf=...) checks and converts it
#                    into $LAYERPRUNE_HOME/models/KEY
#   bg NAME CMD...   start CMD with setsid (it outlives the call) in a copy of the checkout ($LP_BASE/tree/NAME: each
#                    call syncs the checkout again, which a running job must not see), log to $LP_BASE/runs/NAME.log
#   wait SECS        sleep while a `bg` job runs (at most SECS), then tar each run folder into $OUT/<folder>.tgz (the
#                    first six; the rest in rest.tgz) and the logs into logs.tgz
#   env              print the environment lines to source (`eval "$(bash bench/gpu/lease.sh env)"`)
# Everything lives under LP_BASE (default $HOME/lp). Every process started here has NCCL's NVLink multicast off.
set -euo pipefail
B=${LP_BASE:-$HOME/lp}
SITE=$B/site; DATA=$B/data; CHUNKS=$B/chunks; RUNS=$B/runs; TOK=$B/tok
OUT=${OUT:-$B/out}
env_lines() {
  cat <<EOF
export LP_BASE=$B LP_DATA=$DATA LP_TOK=$TOK LP_RUNS=$RUNS
export LAYERPRUNE_HOME=\${LAYERPRUNE_HOME:-$B/home} LAYERPRUNE_DATA=\${LAYERPRUNE_DATA:-$DATA} PATH=$B/bin:\$PATH
export PYTHONPATH=$SITE:$PWD\${PYTHONPATH:+:\$PYTHONPATH}
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
EOF
}
eval "$(env_lines)"
mkdir -p "$SITE" "$DATA" "$CHUNKS" "$RUNS" "$LAYERPRUNE_HOME" "$OUT"

busy() {  # a bg job is alive
  for f in "$RUNS"/*.pid; do [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 0; done; return 1
}
snapshot() {  # what runs, the logs' last lines, the runs folder (no adapters, checkpoints or merged weights) into $OUT
  for f in "$RUNS"/*.pid; do
    [ -f "$f" ] || continue; n=$(basename "$f" .pid)
    if kill -0 "$(cat "$f")" 2>/dev/null; then echo "== $n: running"; else echo "== $n: ended"; fi
    grep -v -i "warn\|it/s\|^\s*$" "$RUNS/$n.log" 2>/dev/null | tail -4 || true
  done
  # one archive per run folder (a file coming back holds at most 16 MiB; at most 8 files): the first six folders alone,
  # the others together in rest.tgz, the logs in logs.tgz
  local ex=(--exclude='adapter' --exclude='checkpoint-*' --exclude='merged' --exclude='pruned_*' --exclude='*.safetensors'
            --exclude='*.pt' --exclude='*.bin')
  rm -f "$OUT"/*.tgz
  local dirs=(); for d in "$RUNS"/*/; do [ -d "$d" ] && dirs+=("$(basename "$d")"); done
  for d in "${dirs[@]:0:6}"; do tar czf "$OUT/$d.tgz" "${ex[@]}" -C "$RUNS" "$d" 2>/dev/null || true; done
  [ ${#dirs[@]} -gt 6 ] && { tar czf "$OUT/rest.tgz" "${ex[@]}" -C "$RUNS" "${dirs[@]:6}" 2>/dev/null || true; }
  (cd "$RUNS" && tar czf "$OUT/logs.tgz" ./*.log 2>/dev/null) || true
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader || true
}

step=${1:-}; shift || true
case "$step" in
  env) env_lines ;;
  setup)
    for w in .gpu/wheels*/*.whl; do  # forced: transformers 5.24 replaces the image's older one
      [ -f "$w" ] && python3 -m pip install -q --no-index --no-deps --upgrade --target "$SITE" "$w" 2>&1 | grep -v -i warning || true
    done
    for d in .gpu/lmA .gpu/pm; do [ -d $d ] && python3 bench/gpu/install_missing.py --target "$SITE" $d/*.whl; done
    [ -f .gpu/data/data.tgz ] && tar xzf .gpu/data/data.tgz -C "$DATA"
    [ -d .gpu/tok ] && mkdir -p "$TOK" && cp .gpu/tok/* "$TOK"/
    [ -d .gpu/shapes ] && mkdir -p "$B/shapes" && cp -r .gpu/shapes/* "$B/shapes"/
    mkdir -p "$B/bin" && printf '#!/bin/sh\nexec python3 -m papermill "$@"\n' > "$B/bin/papermill" && chmod +x "$B/bin/papermill"
    python3 -c "import torch, transformers, accelerate, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'accelerate', accelerate.__version__, 'peft', peft.__version__, 'gpus', torch.cuda.device_count())"
    python3 -c "import bitsandbytes, gguf; print('bitsandbytes', bitsandbytes.__version__)" || echo "bitsandbytes or gguf missing"
    ls "$DATA" "$TOK" 2>/dev/null | tr '\n' ' '; echo
    if command -v nvidia-smi > /dev/null; then nvidia-smi > "$OUT/nvidia-smi.txt"; nvidia-smi topo -m >> "$OUT/nvidia-smi.txt" || true; fi ;;
  chunk)
    for f in .gpu/*/*.[0-9][0-9]; do [ -f "$f" ] && mv "$f" "$CHUNKS"/; done
    ls "$CHUNKS" | tr '\n' ' '; echo ;;
  model)  # KEY NAME
    key=${1:?model KEY NAME}; name=${2:?model KEY NAME}
    ls "$CHUNKS/$name".gguf.[0-9][0-9] > /dev/null || { echo "no chunks $CHUNKS/$name.gguf.NN"; exit 1; }
    cat "$CHUNKS/$name".gguf.[0-9][0-9] > "$B/$name.gguf"
    python3 -c "import sys; from layerprune import zoo; print(zoo.fetch(sys.argv[1], gguf=sys.argv[2]))" "$key" "$B/$name.gguf"
    rm -f "$B/$name.gguf" "$CHUNKS/$name".gguf.[0-9][0-9] ;;
  bg)  # NAME CMD...
    name=${1:?bg NAME CMD...}; shift
    [ $# -gt 0 ] || { echo "bg $name: no command"; exit 2; }
    # the job runs in its own copy of the checkout: every call syncs the checkout again, under running jobs
    tree=$B/tree/$name; rm -rf "$tree"; mkdir -p "$tree"
    tar cf - --exclude=./.gpu . | tar xf - -C "$tree"; cd "$tree"
    setsid nohup "$@" > "$RUNS/$name.log" 2>&1 < /dev/null &
    echo $! > "$RUNS/$name.pid"; echo "started $name (pid $!)"
    sleep 3; snapshot ;;
  wait)  # SECS
    end=$((SECONDS + ${1:-60})); while [ $SECONDS -lt $end ] && busy; do sleep 5; done; snapshot ;;
  *) echo "unknown step '$step': use setup, chunk, model KEY NAME, bg NAME CMD..., wait SECS or env"; exit 2 ;;
esac
