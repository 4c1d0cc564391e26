#!/usr/bin/env bash
# The linters, as CI runs them (.ci/run): ruff on the whole tree and mypy on pneumonet_core,
# both configured in pyproject.toml.
#
# mypy is held to a documented baseline, tools/mypy_baseline.txt: the findings the core had
# when mypy was introduced (mostly Optional values the code checks in ways mypy cannot see,
# and libraries without type information). A finding not in the baseline fails the run; a
# baseline finding that is gone is reported, so the baseline only shrinks
# (``bash tools/lint.sh --update-baseline`` rewrites it after a fix).
# Usage: bash tools/lint.sh [--update-baseline]   (PYTHON=... picks the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if ! "$PY" -m ruff --version >/dev/null 2>&1 || ! "$PY" -m mypy --version >/dev/null 2>&1; then
  "$PY" -m pip install -q "ruff>=0.6" "mypy>=1.11"  # the "lint" extra of pyproject.toml
fi
"$PY" -m ruff check --no-cache .
found=$(mktemp)
"$PY" -m mypy --no-incremental --cache-dir=/dev/null >"$found" 2>&1 || true
"$PY" - "$found" tools/mypy_baseline.txt "${1:-}" <<'PY'
import re, sys
from collections import Counter

found_path, baseline_path, mode = sys.argv[1:4]
def findings(lines):
    # "path:LINE: error: message  [code]" without the line number, which moves with every edit
    return Counter(re.sub(r"^([^:]+):\d+: ", r"\1: ", l.rstrip()) for l in lines if ": error: " in l)
now = findings(open(found_path, encoding="utf-8"))
if mode == "--update-baseline":
    with open(baseline_path, "w", encoding="utf-8") as out:
        out.write("".join(f"{line}\n" for line in sorted(now.elements())))
    print(f"lint: mypy baseline rewritten ({sum(now.values())} findings)")
    sys.exit(0)
baseline = Counter(l.rstrip() for l in open(baseline_path, encoding="utf-8") if l.strip())
new, gone = now - baseline, baseline - now
for line in sorted(gone.elements()):
    print(f"lint: fixed, remove from tools/mypy_baseline.txt: {line}")
for line in sorted(new.elements()):
    print(f"lint: new mypy finding: {line}")
print(f"lint: ruff clean; mypy {sum(now.values())} findings, {sum(baseline.values())} in the baseline, "
      f"{sum(new.values())} new")
sys.exit(1 if new else 0)
PY
