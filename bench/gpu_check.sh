#!/usr/bin/env bash
# One GPU check of srpo in at most 8 minutes, install included (issue 27; docs/gpu.md):
#   bench/gpu_check.sh OUTDIR               # on the GPU machine, from the repo root (installs what it lacks)
#   bench/gpu_check.sh --cpu-smoke OUTDIR   # the same parts on tiny shapes on CPU, well under a minute
# Writes OUTDIR/gpu_check.json and OUTDIR/gpu_check.md. Each part runs under its own `timeout` and writes its
# own fragment (OUTDIR/PART.json, .err, .rc); a part that fails or runs out of time is recorded as such
# with its stderr tail, and the others' figures stay. Time a part leaves unused goes to the next ones,
# never past the total (GPU_CHECK_TOTAL_S, default 470 s).
set -uo pipefail
SMOKE=0
if [[ "${1:-}" == "--cpu-smoke" ]]; then SMOKE=1; shift; fi
OUT="${1:?usage: bench/gpu_check.sh [--cpu-smoke] OUTDIR}"
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
START=$(date +%s)
TOTAL="${GPU_CHECK_TOTAL_S:-470}"
SMOKE_FLAG=()
if (( SMOKE )); then
  SMOKE_FLAG=(--cpu-smoke); TOTAL="${GPU_CHECK_TOTAL_S:-55}"; export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
fi
SLACK=0

# part NAME BUDGET_S COMMAND...: run COMMAND under min(BUDGET + slack, time left), record rc/err/seconds.
part() {
  local name="$1" budget="$2"; shift 2
  local now left limit t0 rc
  now=$(date +%s); left=$(( TOTAL - (now - START) - 3 ))
  limit=$(( budget + SLACK )); (( limit > left )) && limit=$left
  if (( limit < 5 )); then
    echo 124 > "$OUT/$name.rc"; echo "no time left (total ${TOTAL}s spent)" > "$OUT/$name.err"
    echo 0 > "$OUT/$name.budget"; echo 0 > "$OUT/$name.seconds"; return
  fi
  echo "$limit" > "$OUT/$name.budget"
  echo "== $name (limit ${limit}s)"
  t0=$(date +%s)
  timeout -k 5 "$limit" "$@" > >(tee "$OUT/$name.log") 2> >(tee "$OUT/$name.err" >&2)
  rc=$?
  echo "$rc" > "$OUT/$name.rc"
  local used=$(( $(date +%s) - t0 ))
  echo "$used" > "$OUT/$name.seconds"
  SLACK=$(( limit - used )); (( SLACK < 0 )) && SLACK=0
  echo "== $name: exit $rc after ${used}s"
}

install_srpo() {
  if (( SMOKE )); then
    "$PY" -c "import srpo, trl; print('smoke: srpo', srpo.__file__, 'trl', trl.__version__)" || return 1
    echo '{"part": "install", "results": {"mode": "smoke: the current environment, nothing installed"}}' \
      > "$OUT/install.json"; return 0
  fi
  local wheels=(); [[ -d .whl ]] && wheels=(.whl/*.whl)
  # --no-deps: the machine's torch / transformers / accelerate / peft stay as they are.
  if (( ${#wheels[@]} )); then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --find-links .whl "${wheels[@]}" || return 1
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --find-links .whl -e . || return 1
  "$PY" - "$OUT/install.json" <<'EOF'
import json, sys, importlib
versions = {}
for name in ("srpo", "torch", "transformers", "accelerate", "peft", "trl", "datasets", "math_verify"):
    try:
        versions[name] = getattr(importlib.import_module(name), "__version__", "?")
    except Exception as err:
        versions[name] = f"missing ({type(err).__name__})"
json.dump({"part": "install", "results": versions}, open(sys.argv[1], "w"))
print(versions)
EOF
}

G=bench/gpu_check.py
# Budgets (s) on the GPU machine: 40 + 95 + 105 + 50 + 70 + 40 + 55 + 15 = 470 (merge: ~2 s more).
if (( SMOKE )); then B=(10 6 6 5 5 5 15 5); else B=(40 95 105 50 70 40 55 15); fi
export -f install_srpo; export OUT PY SMOKE
part install      "${B[0]}" bash -c install_srpo
part rollout_0.5b "${B[1]}" "$PY" $G rollout --model 0.5b --out "$OUT/rollout_0.5b.json" "${SMOKE_FLAG[@]}"
part rollout_1.5b "${B[2]}" "$PY" $G rollout --model 1.5b --out "$OUT/rollout_1.5b.json" "${SMOKE_FLAG[@]}"
part update_0.5b  "${B[3]}" "$PY" $G update --model 0.5b --out "$OUT/update_0.5b.json" "${SMOKE_FLAG[@]}"
part update_1.5b  "${B[4]}" "$PY" $G update --model 1.5b --out "$OUT/update_1.5b.json" "${SMOKE_FLAG[@]}"
part lora_7b      "${B[5]}" "$PY" $G lora --out "$OUT/lora_7b.json" "${SMOKE_FLAG[@]}"
part trl_0.5b     "${B[6]}" "$PY" $G trl --out "$OUT/trl_0.5b.json" "${SMOKE_FLAG[@]}"
part cuda_tests   "${B[7]}" "$PY" $G cuda_tests --out "$OUT/cuda_tests.json" "${SMOKE_FLAG[@]}"
"$PY" $G merge --dir "$OUT" "${SMOKE_FLAG[@]}"
echo "== total $(( $(date +%s) - START ))s"
cat "$OUT/gpu_check.md"
