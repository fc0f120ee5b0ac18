#!/usr/bin/env bash
# Installs the native HTTP load generator the overhead scenario drives (wrk, from Debian's
# packages): a Node client is itself the bottleneck on two cores. Prints the path of wrk on stdout.
set -euo pipefail
exec "$(dirname "$0")/apt-tool.sh" wrk
