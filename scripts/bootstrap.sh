#!/usr/bin/env bash
# Creates the locked environment on a fresh machine: uv, the HarfBuzz subsetter, .venv with bytecode.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"

# uv, installed for this user. Systems with PEP 668 (Debian 12, Ubuntu 23.04 and later) refuse
# `pip install --user` ("externally-managed-environment"): then a private virtual environment
# under ~/.local/share/nastavnik-uv, then pipx, and only as a last resort pip's
# --break-system-packages (with --user it still writes only under ~/.local).
install_uv() {
  local venv="$HOME/.local/share/nastavnik-uv"
  python3 -m pip install --quiet --user uv 2>/dev/null && return 0
  echo "bootstrap: pip install --user refused; installing uv into $venv" >&2
  if python3 -m venv "$venv" >/dev/null 2>&1 && "$venv/bin/python" -m pip install --quiet uv; then
    mkdir -p "$HOME/.local/bin"
    ln -sf "$venv/bin/uv" "$HOME/.local/bin/uv"
    return 0
  fi
  rm -rf "$venv"
  if command -v pipx >/dev/null 2>&1 && pipx install uv >/dev/null; then
    return 0
  fi
  python3 -m pip install --quiet --user --break-system-packages uv
}

if ! command -v uv >/dev/null 2>&1; then
  install_uv || { echo "bootstrap: could not install uv; see https://docs.astral.sh/uv/" >&2; exit 1; }
  hash -r
  command -v uv >/dev/null 2>&1 || { echo "bootstrap: uv installed but not on PATH" >&2; exit 1; }
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

# Bytecode for every installed package and for the project's own: each flow run's process
# imports Prefect and the flow module, 5-6 s from source on a small machine, about half with
# .pyc files (Python reads them even where PYTHONDONTWRITEBYTECODE=1 keeps it from writing them).
uv sync --locked --quiet --compile-bytecode
uv run --locked --no-sync python -m compileall -q nastavnik models tasks flows deployments
