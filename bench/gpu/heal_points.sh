# Healed points of a finished unhealed sweep, in parallel processes on one GPU (a 135M-270M model leaves
# an H100 mostly idle, so W processes heal W points at once). Each worker resumes a copy of the run
# folder with its share of heal_ns; `merge` copies the healed points (and their healing logs) back.
#   bash bench/gpu/heal_points.sh start RUN_DIR KEY '<overrides json>' '3 6 9' '12 15 18' ...
#   bash bench/gpu/heal_points.sh merge RUN_DIR
set -e
what=$1; run=$2
if [ "$what" = start ]; then
  key=$3; over=$4; shift 4; i=0
  for ns in "$@"; do
    w=$run.w$i; rm -rf $w; mkdir -p $w; cp -r $run/points $run/distances.npz $w/
    o=$(python3 -c "import json,sys; d=json.loads(sys.argv[1]); d['heal_ns']=[int(x) for x in sys.argv[2].split()]; print(json.dumps(d))" "$over" "$ns")
    setsid nohup python3 bench/gpu/run_family.py --key $key --data-dir /root/lpdata --out $w --profile full --overrides "$o" \
      > $w.log 2>&1 < /dev/null &
    i=$((i+1))
  done
elif [ "$what" = merge ]; then
  for w in $run.w*/; do
    cp -n $w/points/*-healed.json $run/points/ 2>/dev/null || true
    [ -d $w/work ] && mkdir -p $run/work && cp -rn $w/work/* $run/work/ || true
  done
  ls $run/points | grep -c healed
fi
