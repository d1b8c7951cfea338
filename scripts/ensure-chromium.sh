#!/usr/bin/env bash
# Make Debian's chromium available for the report's headless-browser test (tests/report/test_report_browser.py).
# Idempotent and quiet: does nothing when chromium is on PATH; otherwise installs it with apt-get when run
# as root. Exits non-zero with a message saying what to do when it cannot.
set -euo pipefail

have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }

have_chromium && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: chromium is not installed and this is not root;" \
       "install it with: sudo apt-get install -y chromium" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: chromium is not installed and there is no apt-get;" \
       "install chromium with this system's package manager" >&2
  exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$log" 2>&1; then
  echo "ensure-chromium: 'apt-get install chromium' failed; its last lines:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
if ! have_chromium; then
  echo "ensure-chromium: apt-get succeeded but no chromium is on PATH" >&2
  exit 1
fi
