#!/usr/bin/env bash
# System tools only the tests need (not the demo): Debian's chromium, which renders the HTML
# report in its browser test. Idempotent.
set -euo pipefail
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  # headless Chromium renders the HTML report in its test (skipped without it)
  if command -v apt-get >/dev/null; then
    echo "[setup] installing Debian's chromium (the report's browser test)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
    $SUDO apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null \
      || echo "[setup] warning: chromium could not be installed; the report's browser test will be skipped" >&2
  else
    echo "[setup] warning: no apt-get; install chromium yourself for the report's browser test" >&2
  fi
fi

