#!/bin/sh
# Debian's HAProxy for the load-balancer run (stats/tests/test_lb.py, in `make chaos`),
# installed if missing, as .ci/run installs Chromium: CI is a clean Debian 12, run as root,
# that reaches package registries only. The test starts /usr/sbin/haproxy itself, on its own
# ports; the package's system service (which Debian starts, listening nowhere) is not used.
set -eu
HAPROXY=/usr/sbin/haproxy
if [ -x "$HAPROXY" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "$HAPROXY is missing: install Debian's haproxy (sudo apt-get install haproxy)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends haproxy
"$HAPROXY" -v | head -n 1
