#!/usr/bin/env bash
# Creates the locked environment on a fresh machine: uv, the HarfBuzz subsetter, .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi

# WeasyPrint subsets fonts 4x faster with HarfBuzz's subsetting library.
if ! ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -q libharfbuzz-subset0 >/dev/null 2>&1 \
      || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libharfbuzz-subset0 >/dev/null 2>&1)) \
      || echo "WARNING: could not install libharfbuzz-subset0; PDFs will render ~4x slower" >&2
  else
    echo "WARNING: libharfbuzz-subset0 is missing (install it as root: apt-get install libharfbuzz-subset0);" \
         "PDFs will render ~4x slower" >&2
  fi
fi

uv sync --locked --quiet
