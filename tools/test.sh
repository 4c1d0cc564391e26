#!/usr/bin/env bash
# Install (if needed, with the test extras) and run the test suite headless, as CI does.
# Usage: bash tools/test.sh [--fast] [pytest arguments]
#   --fast   the inner loop: leaves out the tests marked slow (training, the ResNet152V2,
#            JAX and Ray, Orthanc, the wizard); CI runs them all.
#
# Two phases, so that the suite is quick without passing its 4 GB memory ceiling:
#   1. the heavy tests, while nothing else runs: first those marked own_process (child
#      pytests that train or load ResNet152V2s, side by side where their sizes fit:
#      tests/own_process.py), then those marked early (Ray, or a process of about a
#      gigabyte), one at a time;
#   2. the rest in $PNEUMONET_TEST_WORKERS pytest-xdist workers (2; 0 runs them in process).
# Arguments that choose tests (a path, -k, -m, --lf, ...) run one plain pytest instead, in
# process, with exactly those arguments. pytest's cache lives in $TMPDIR, not the checkout.
# PNEUMONET_TEST_DRY_RUN=1 prints the pytest commands instead (tests/test_test_script.py).
set -euo pipefail
cd "$(dirname "$0")/.."
dry="${PNEUMONET_TEST_DRY_RUN:-0}"
[ "$dry" = 1 ] || bash tools/install.sh --test
fast=0
if [ "${1:-}" = "--fast" ]; then
  shift
  fast=1
fi
export QT_QPA_PLATFORM=offscreen
export TF_CPP_MIN_LOG_LEVEL=2
# Tests never touch the user's real settings or models.
export PNEUMONET_HOME="${PNEUMONET_HOME:-$(mktemp -d)}"
pytest=(.venv/bin/python -m pytest -q)
# pytest's cache in $TMPDIR (for --lf), unless the cache is switched off (CI: -p no:cacheprovider)
case " $* " in
  *" no:cacheprovider "*|*" -pno:cacheprovider "*) ;;
  *) pytest+=(-o cache_dir="${TMPDIR:-/tmp}/pneumonet-pytest-cache") ;;
esac
[ "$dry" = 1 ] && pytest=(echo pytest)
workers="${PNEUMONET_TEST_WORKERS:-2}"

# Only options that change how results are reported keep the two phases.
phased=1
args=("$@")
i=0
while [ $i -lt ${#args[@]} ]; do
  case "${args[$i]}" in
    -p|-o|-W|--durations|--timeout) i=$((i + 2)); continue ;;
    -q|-v|-vv|-x|-r*|--durations=*|--timeout=*|--tb=*|-W*|-p*|--color=*|--maxfail=*) ;;
    *) phased=0 ;;
  esac
  i=$((i + 1))
done

tier=""
[ $fast = 1 ] && tier=" and not slow"
if [ $phased = 0 ]; then
  [ $fast = 1 ] && set -- -m "not slow" "$@"
  exec "${pytest[@]}" "$@"
fi

start=$(date +%s)
status=0
echo "tools/test.sh: 1/2, the heavy tests, with no worker beside them"
"${pytest[@]}" -m "(early or own_process)$tier" "$@" || status=$?
[ $status = 5 ] && status=0  # none of them in this tier
parallel=()
# worksteal: an idle worker takes tests queued for the other, so neither ends long after it
[ "$workers" != 0 ] && parallel=(-n "$workers" --dist worksteal)
where="$workers pytest-xdist workers"
[ "$workers" = 0 ] && where="process"
echo "tools/test.sh: 2/2, the other tests, in $where"
second=0
"${pytest[@]}" ${parallel[@]+"${parallel[@]}"} -m "not (early or own_process)$tier" "$@" || second=$?
[ $status = 0 ] && status=$second
took=$(($(date +%s) - start))
echo "tools/test.sh: both phases in $((took / 60)):$(printf %02d $((took % 60))) (exit $status)"
exit $status
