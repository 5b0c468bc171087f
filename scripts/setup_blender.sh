#!/usr/bin/env bash
# Create .venv-blender from nothing: Blender as a Python module (bpy, pinned), in its own
# virtual environment, because bpy pins numpy<2 and needs Python 3.11 exactly.
#
# The exporter tests marked `blender` drive it as a subprocess
# (`.venv-blender/bin/python script.py ...`) to import every BVH and FBX file we write.
# Idempotent: a stamp file records the installed pin; a second run with the same pin does
# nothing. About 374 MB downloaded, about 1 GB installed, once per machine.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${BLENDER_VENV:-.venv-blender}"
BPY_VERSION="${BPY_VERSION:-5.0.1}"
STAMP="$VENV/.installed-bpy-$BPY_VERSION"

if [ -f "$STAMP" ] && "$VENV/bin/python" -c "import bpy" >/dev/null 2>&1; then
  echo "[setup-blender] bpy==$BPY_VERSION already in $VENV"
  exit 0
fi

# bpy 5.0 wheels exist for CPython 3.11 only: find one.
PY=""
for cand in "${PYTHON311:-}" python3.11 python3; do
  [ -n "$cand" ] || continue
  if command -v "$cand" >/dev/null && \
     "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    PY="$cand"; break
  fi
done
if [ -z "$PY" ]; then
  echo "[setup-blender] error: bpy==$BPY_VERSION needs Python 3.11 (set PYTHON311=/path/to/python3.11)" >&2
  exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup-blender] creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
echo "[setup-blender] bpy==$BPY_VERSION (about 374 MB, once per machine)"
$PIP install "bpy==$BPY_VERSION"
"$VENV/bin/python" -c "import bpy; print('[setup-blender] Blender', bpy.app.version_string)"
rm -f "$VENV"/.installed-bpy-*
touch "$STAMP"
echo "[setup-blender] done: $VENV/bin/python"
