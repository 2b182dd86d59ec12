#!/bin/bash
# Distillation measurement (issue 8): same student, same 153,600 tokens (75 steps x 2048), cached teacher.
set -u
TEMP=${1:-10}   # distillation temperature (the pilot's best of 2 and 10)
V=${VERDANT:-$(pwd)/.build/release/verdant}
T=${TEACHER:-$(pwd)/../shared/models/pycoder-llama-19m}
D=${DATA:-$(pwd)/../shared/data}
cd "${BENCH_DIR:-bench-out/distill-students}"  # holds vocab8192/, cache8192/ and student.json (scripts/distill-student-8192x128.json); see BENCHMARKS.md
run() {
  name=$1; shift
  out=runs/$name
  echo "== $name start $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  /usr/bin/time -f "wall %e s" $V distill $T --student student.json --student-vocab vocab8192 --data $D/code-train.jsonl.xz \
    --teacher-cache cache8192 --tokens 153600 --batch-tokens 2048 --init-calibration-tokens 4096 \
    --threads 2 --save-every 25 --out $out --force "$@" > $out.log 2>&1
  grep -E "^wall|init from teacher: [0-9]" $out.log
  tail -3 $out.log | grep step
  $V perplexity $out --data $D/code-dev.jsonl --max-tokens 100000 --json --threads 2 > $out.ppl.json 2>>$out.log
  cat $out.ppl.json; echo
  /usr/bin/time -f "lc wall %e s" $V eval $out --task line-completion --data $D/line-completion-dev.jsonl --json --threads 2 > $out.lc.json 2>>$out.log
  cat $out.lc.json; echo; grep "lc wall" $out.log
}
run kd-teacher-init --init from-teacher --temperature $TEMP --alpha 1
run ce-teacher-init --init from-teacher --alpha 0
run kd-random-init --init random --temperature $TEMP --alpha 1
echo "== done $(date +%T)"
