#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard browser tests when it is missing.
# Needs root (CI containers run as root); otherwise it only says what to do.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "ensure-chromium: $CHROMIUM present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: $CHROMIUM missing and not root; run: sudo apt-get install -y chromium" >&2
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM missing and apt-get unavailable; browser tests will be skipped" >&2
  exit 0
fi

echo "ensure-chromium: installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium fonts-dejavu-core
echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null || echo installed)"
