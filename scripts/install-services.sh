#!/usr/bin/env bash
# Install the real services the test suite runs against, when they are missing:
# Mosquitto (MQTT broker), PostgreSQL (hub database), socat (scanner pty pairs, the chaos
# suite's network proxies), faketime (libfaketime, the chaos suite's skewed clock).
# The tests start and stop their own instances on loopback; nothing is left running.
set -euo pipefail
sudo_cmd() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "error: need root or sudo to install: $*" >&2; exit 1; fi; }

missing=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_passwd >/dev/null || missing+=(mosquitto-clients)
command -v socat >/dev/null || missing+=(socat)
command -v faketime >/dev/null || missing+=(faketime)   # libfaketime: the chaos suite skews a clock
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ "${ACORN_WITH_BROWSER:-1}" = "1" ]; then
  command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} with apt-get"
  sudo_cmd apt-get update -qq
  sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
