#!/usr/bin/env bash
# Create .venv with the tested package versions (constraints.txt). Idempotent: a second
# call returns at once unless pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "bootstrap: Python >= 3.11 is needed; $("$PY" --version 2>&1) found (set PYTHON=...)." >&2
    exit 1
fi
stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
    exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c constraints.txt -e ".[dev]"
# numba compiles the neighbour graph's and the UMAP's code on first use (about 30 s); do
# it now, once, so that the first run's integration job reads it from numba's cache.
.venv/bin/python -c 'from acc_tiam1._jit_cache import warm; warm()' >/dev/null 2>&1 ||
    echo "bootstrap: warning: numba's cache was not filled; the first run compiles it." >&2
rm -f .venv/.installed-*
touch "$stamp"
echo "bootstrap: .venv ready ($(.venv/bin/python --version))."
