#!/usr/bin/env bash
# Create .venv and install Acorn into it. Works on a fresh Debian/Ubuntu with python3 3.11+.
# Usage: scripts/bootstrap.sh [extras]   e.g. scripts/bootstrap.sh test,dev
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"

sudo_cmd() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "error: need root or sudo to run: $*" >&2; exit 1; fi; }

if ! command -v "$PY" >/dev/null; then
  echo "error: python3 not found; install Python 3.11 or newer" >&2; exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "error: Acorn needs Python 3.11 or newer; $("$PY" --version) found" >&2; exit 1
fi
# Debian's python3 ships venv and ensurepip in a separate package.
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  echo "==> installing python3-venv (Debian splits venv out of python3)"
  sudo_cmd apt-get update -qq
  ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${ver}-venv" || \
    sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi

stamp=".venv/.installed-${extras:-base}"
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
echo "==> installing Acorn${extras:+ with [$extras]} into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v "is ignored" || true
spec="."
[ -n "$extras" ] && spec=".[$extras]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec" 2>&1 | grep -v "is ignored" || true
.venv/bin/python -c 'import acorn, protocol, hub, edge_agent, provisioning' || {
  echo "error: the install into .venv failed; see the pip output above" >&2; exit 1; }
touch "$stamp"
