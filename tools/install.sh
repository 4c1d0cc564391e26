#!/usr/bin/env bash
# Install Pneumonet into ./.venv with its test extras, and the few system libraries the
# Qt app and the PDF tests need (Debian/Ubuntu, when run as root or with sudo).
# Usage: bash tools/install.sh        (then: .venv/bin/pneumonet gui)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
for lib in libEGL.so.1 libGL.so.1 libxkbcommon.so.0 libfontconfig.so.1 libdbus-1.so.3; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || need+=("$lib")
done
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  pkgs=()
  for item in "${need[@]}"; do
    case "$item" in
      poppler-utils) pkgs+=(poppler-utils) ;;
      libEGL.so.1) pkgs+=(libegl1) ;;
      libGL.so.1) pkgs+=(libgl1) ;;
      libxkbcommon.so.0) pkgs+=(libxkbcommon0) ;;
      libfontconfig.so.1) pkgs+=(libfontconfig1) ;;
      libdbus-1.so.3) pkgs+=(libdbus-1-3) ;;
    esac
  done
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing system packages: ${pkgs[*]}"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
echo "installed: $(.venv/bin/pneumonet --version)"
