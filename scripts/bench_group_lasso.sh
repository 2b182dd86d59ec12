#!/usr/bin/env bash
# Group Lasso vs magnitude pruning (issue 8), at the same sparsity and the same masked recovery.
#
# For each group kind in GROUP_KINDS and each sparsity S in SPARSITIES:
#   mag-G-S   : magnitude cut of the teacher + RECOVER_TOKENS of masked recovery (the same recovery as gl)
#   mageq-G-S : magnitude cut + TOKENS+RECOVER_TOKENS of masked recovery (the same total training as gl;
#               EQUAL_BUDGET=0 skips it)
#   gl-G-S    : Group Lasso penalty phase (TOKENS, ALPHA, SCHEDULE, PENALIZE) + cut + RECOVER_TOKENS of recovery
# each also after `verdant quantize --scheme q8_0` (1x2: q8_sparse1x2, the same tiles as int8; row/column:
# dense q8_0), plus the dense teacher once.
# Every model gets: model.safetensors bytes, perplexity (code-dev, PPL_TOKENS), ES/EM on ES_LIMIT
# line-completion tasks. Results: OUT/results.tsv (one line per model) and OUT/results.md.
#
# Resumable: a model directory or result line that exists is reused, so rerunning after a kill
# continues (an interrupted prune resumes from its OUT.checkpoints with --resume).
#
# Usage (every setting is an environment variable; defaults in brackets):
#   TOKENS=81920 RECOVER_TOKENS=40960 THREADS=2 scripts/bench_group_lasso.sh
# Other knobs: GROUP_KINDS ("1x2 row"), SPARSITIES ("0.4 0.6 0.8"), ALPHA, SCHEDULE (constant), PENALIZE (cut),
# LR (3e-4), CONTEXT, BATCH_TOKENS, SEED, PPL_TOKENS (100000), ES_LIMIT (500), OUT, VERDANT.
# Tiny smoke run: TOKENS=2048 RECOVER_TOKENS=1024 SPARSITIES=0.6 ES_LIMIT=5 PPL_TOKENS=2048 THREADS=1 ...
set -euo pipefail
cd "$(dirname "$0")/.."

SHARED=${SHARED:-../shared}
TEACHER=${TEACHER:-$SHARED/models/pycoder-llama-19m}
TRAIN=${TRAIN:-$SHARED/data/code-train.jsonl.xz}
DEV=${DEV:-$SHARED/data/code-dev.jsonl}
TASKS=${TASKS:-$SHARED/data/line-completion-dev.jsonl}
OUT=${OUT:-bench-out/group-lasso}
GROUP_KINDS=${GROUP_KINDS:-"1x2 row"}   # (not GROUPS: bash reserves it)
SPARSITIES=${SPARSITIES:-"0.4 0.6 0.8"}
TOKENS=${TOKENS:-81920}                 # penalty phase (Group Lasso only)
RECOVER_TOKENS=${RECOVER_TOKENS:-40960} # masked recovery after the cut (both)
EQUAL_BUDGET=${EQUAL_BUDGET:-1}
SCHEDULE=${SCHEDULE:-constant}
PENALIZE=${PENALIZE:-cut}
LR=${LR:-3e-4}
CONTEXT=${CONTEXT:-256}
BATCH_TOKENS=${BATCH_TOKENS:-2048}
# α for the targeted penalty: ≈ 2.5× what zeroes the whole cut set by the last step (`prune` prints that α:
# "α ≳ X would zero them all"; 39 at 8 steps of 2048 tokens, lr 3e-4, S 0.6, constant), so the cut set is
# zero early and the rest of the phase trains around it. It scales with 1/(steps·lr); 100 at 8 steps.
ALPHA=${ALPHA:-$(awk -v b="$BATCH_TOKENS" -v t="$TOKENS" -v lr="$LR" 'BEGIN { printf "%.3g", 800 * b / t * 3e-4 / lr }')}
SEED=${SEED:-0}
THREADS=${THREADS:-2}
PPL_TOKENS=${PPL_TOKENS:-100000}
ES_LIMIT=${ES_LIMIT:-500}
VERDANT=${VERDANT:-.build/release/verdant}

[ -x "$VERDANT" ] || swift build -c release --product verdant
for f in "$TEACHER/config.json" "$TRAIN" "$DEV" "$TASKS"; do
    [ -e "$f" ] || { echo "bench_group_lasso: $f not found" >&2; exit 1; }
done
mkdir -p "$OUT"
RESULTS="$OUT/results.tsv"
[ -s "$RESULTS" ] || printf 'model\tgroup\tsparsity\tmethod\tint8\tbytes\tperplexity\tes\tem\tzero_at_cut\n' > "$RESULTS"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

train_common=(--data "$TRAIN" --context "$CONTEXT" --batch-tokens "$BATCH_TOKENS" --lr "$LR" --seed "$SEED"
              --threads "$THREADS" --save-every 10)

# prune NAME ARGS...: writes OUT/NAME (resuming an interrupted run), keeps its log.
prune() {
    local name=$1; shift
    local dir="$OUT/$name"
    if [ -f "$dir/config.json" ]; then return; fi
    local resume=()
    [ -d "$dir.checkpoints" ] && resume=(--resume)
    log "prune $name"
    "$VERDANT" prune "$TEACHER" --group-lasso "$@" "${train_common[@]}" "${resume[@]}" --out "$dir" --force \
        > "$OUT/$name.log" 2> "$OUT/$name.train.log"
}

# evaluate NAME GROUP S METHOD INT8: one results line (skipped when present).
evaluate() {
    local name=$1 group=$2 s=$3 method=$4 int8=$5
    local dir="$OUT/$name"
    if grep -q "^$name	" "$RESULTS"; then return; fi
    log "evaluate $name"
    local bytes ppl es em zero
    bytes=$(stat -c %s "$dir/model.safetensors")
    ppl=$("$VERDANT" perplexity "$dir" --data "$DEV" --max-tokens "$PPL_TOKENS" --threads "$THREADS" --json | jq -r .perplexity)
    read -r es em < <("$VERDANT" eval "$dir" --task line-completion --data "$TASKS" --limit "$ES_LIMIT" --threads "$THREADS" --json \
        | jq -r '"\(.es) \(.em)"')
    # "removed groups already exactly zero at the cut: Z of R (P%)" from the prune's stdout.
    local base=${name%-q8}
    zero=–
    if [ -f "$OUT/$base.log" ]; then
        zero=$(sed -n 's/.*exactly zero at the cut: \([0-9]* of [0-9]* ([0-9.]*%)\).*/\1/p' "$OUT/$base.log" | head -1)
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$group" "$s" "$method" "$int8" "$bytes" "$ppl" "$es" "$em" "${zero:-–}" >> "$RESULTS"
}

quantize() {
    local src=$1
    [ -f "$OUT/$src-q8/config.json" ] && return
    log "quantize $src"
    "$VERDANT" quantize "$OUT/$src" --scheme q8_0 --threads "$THREADS" --out "$OUT/$src-q8" --force > "$OUT/$src-q8.log"
}

start=$(date +%s)
[ -e "$OUT/teacher" ] || ln -s "$(realpath "$TEACHER")" "$OUT/teacher"
evaluate teacher dense 0 dense no
if [ ! -f "$OUT/teacher-q8/config.json" ]; then
    "$VERDANT" quantize "$OUT/teacher" --scheme q8_0 --threads "$THREADS" --out "$OUT/teacher-q8" --force > "$OUT/teacher-q8.log"
fi
evaluate teacher-q8 dense 0 dense q8_0

for group in $GROUP_KINDS; do
    for s in $SPARSITIES; do
        mag=mag-$group-$s gl=gl-$group-$s models=(mag-$group-$s gl-$group-$s)
        t0=$(date +%s)
        prune "$mag" --group "$group" --sparsity "$s" --recover-tokens "$RECOVER_TOKENS"
        if [ "$EQUAL_BUDGET" = 1 ]; then
            prune "mageq-$group-$s" --group "$group" --sparsity "$s" --recover-tokens "$(( TOKENS + RECOVER_TOKENS ))"
            models+=("mageq-$group-$s")
        fi
        prune "$gl" --group "$group" --sparsity "$s" --alpha "$ALPHA" --alpha-schedule "$SCHEDULE" --penalize "$PENALIZE" \
            --tokens "$TOKENS" --recover-tokens "$RECOVER_TOKENS"
        for m in "${models[@]}"; do
            method=${m%%-*}
            evaluate "$m" "$group" "$s" "$method" no
            # 1x2 quantizes to q8_sparse1x2 (int8 tiles, same mask), row/column to dense q8_0.
            quantize "$m"
            evaluate "$m-q8" "$group" "$s" "$method" q8_0
        done
        log "$group S $s done in $(( $(date +%s) - t0 )) s"
    done
done

# Markdown: one row per (group, sparsity, int8), magnitude vs Group Lasso side by side.
python3 - "$RESULTS" "$OUT/results.md" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {(r["group"], r["sparsity"], r["method"], r["int8"]): r for r in rows}
def trio(key, field, fmt):
    return " / ".join(fmt(r[field]) if r else "–" for r in key)
out = ["| group | S | int8 | bytes mag / mageq / GL | ppl mag / mageq / GL | ES mag / mageq / GL | EM mag / mageq / GL "
       "| GL groups zero at the cut | GL beats mag (ES and ppl) | GL beats mageq |",
       "|---|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    if r["method"] == "dense":
        out.append(f"| dense teacher | – | {r['int8']} | {int(r['bytes']):,} | {float(r['perplexity']):.3f} | {float(r['es']):.2f} "
                   f"| {float(r['em']):.2f} | – | – | – |")
for (g, s, m, q), mag in sorted(by.items()):
    gl = by.get((g, s, "gl", q))
    if m != "mag" or gl is None:
        continue
    eq = by.get((g, s, "mageq", q))
    k = [mag, eq, gl]
    beats = lambda b: "–" if b is None else ("yes" if float(gl["es"]) > float(b["es"]) and float(gl["perplexity"]) < float(b["perplexity"]) else "no")
    out.append(f"| {g} | {s} | {q} | {trio(k, 'bytes', lambda v: f'{int(v):,}')} | {trio(k, 'perplexity', lambda v: f'{float(v):.3f}')} "
               f"| {trio(k, 'es', lambda v: f'{float(v):.2f}')} | {trio(k, 'em', lambda v: f'{float(v):.2f}')} | {gl['zero_at_cut']} "
               f"| {beats(mag)} | {beats(eq)} |")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
EOF
log "all done in $(( $(date +%s) - start )) s; $OUT/results.md"
