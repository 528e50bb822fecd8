# Helpers for the jobs of a lease (bench/gpu/README.md), sourced by each `lease.sh bg` job in its copy of the checkout:
#   bash bench/gpu/lease.sh bg q15 bash -c '. bench/gpu/jobs.sh; convert qwen2.5-coder-1.5b q15'
#   bash bench/gpu/lease.sh bg q15full bash -c '. bench/gpu/jobs.sh; await q15; healed qwen2.5-coder-1.5b-full'
#   bash bench/gpu/lease.sh bg abl_seeds bash -c '. bench/gpu/jobs.sh; await q15; abl seeds "\"heal_fracs\": [0.1, 0.2, 0.4]"'
# Every job can so start in the call that carries its model's last chunk: it waits for the conversion's `.ready` file.
eval "$(bash bench/gpu/lease.sh env)"

await() {  # NAME: wait until `convert KEY NAME` has finished
  until [ -f "$LP_BASE/$1.ready" ]; do sleep 5; done
}

convert() {  # KEY NAME: assemble the carried chunks NAME.gguf.NN, convert them into the zoo entry KEY, mark it ready
  bash bench/gpu/lease.sh model "$1" "$2" && touch "$LP_BASE/$2.ready"
}

healed() {  # FAMILY: recompute.sh healed, then up to two resumes of its folder if the process died (CUDA out of memory)
  bash bench/gpu/recompute.sh healed "$1" && return 0
  for i in 1 2; do echo "== resume $i of $1"; sleep 30; bash bench/gpu/recompute.sh resume "$1" && return 0; done
  return 1
}

abl() {  # PART [EXTRA]: one part of the ablations (ablations.sh) into $LP_RUNS/qwen2.5-coder-1.5b-ablations, resumed
  for i in 1 2 3; do
    bash bench/gpu/ablations.sh "$1" "$LP_RUNS/qwen2.5-coder-1.5b-ablations" "${2:-}" && return 0
    echo "== resume $i of $1"; sleep 30
  done
  return 1
}
