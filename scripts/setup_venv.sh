#!/usr/bin/env bash
# Create .venv from nothing: system libusb (for open3d), torch pinned first (so pip never
# pulls a CUDA build on a CPU machine), then this project with its extras.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"

if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  echo "[setup] installing system library libusb-1.0-0 (needed by open3d)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
  if command -v apt-get >/dev/null; then
    $SUDO apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libusb-1.0-0 >/dev/null
  else
    echo "[setup] warning: no apt-get; install libusb-1.0 yourself for open3d" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
echo "[setup] torch==$TORCH_VERSION (pinned, installed first)"
$PIP install "torch==$TORCH_VERSION"
echo "[setup] project and extras"
$PIP install -e ".[all]"
touch "$VENV/.installed"
echo "[setup] done: $VENV/bin/mocap"
