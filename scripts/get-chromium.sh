#!/usr/bin/env bash
# Installs Chromium from Debian's packages (the status page is tested in a real headless browser,
# driven by playwright-core, which downloads no browser of its own) and prints its path.
# Progress goes to stderr, the path alone to stdout: CHROMIUM=$(scripts/get-chromium.sh).
set -euo pipefail
bin="${CHROMIUM_BIN:-/usr/bin/chromium}"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
command -v apt-get >/dev/null 2>&1 || { echo "get-chromium: no apt-get here; install Chromium and set CHROMIUM_BIN" >&2; exit 1; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "get-chromium: apt-get install chromium" >&2
$sudo apt-get update -qq >&2 || true
# Fonts so the page's text renders in the screenshot (Debian's chromium does not pull any in).
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
[ -x /usr/bin/chromium ] || { echo "get-chromium: /usr/bin/chromium missing after install" >&2; exit 1; }
echo /usr/bin/chromium
