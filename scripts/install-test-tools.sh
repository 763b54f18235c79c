#!/usr/bin/env bash
# Installs the real peer servers that integration tests start on loopback:
# localstripe (a stateful Stripe emulator) and aiosmtpd (an SMTP server),
# both from PyPI, into a virtualenv outside the source tree. Tests find them
# through TEST_TOOLS_DIR (default below). Safe to run again: it installs only
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR="${TEST_TOOLS_DIR:-/var/tmp/robust-ticketing-tools}"
VENV="$TOOLS_DIR/venv"
if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 is missing: install Python 3.9 or newer (the payment and mail tests start localstripe and aiosmtpd)" >&2
    exit 1
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$VENV"
fi
if [[ ! -x "$VENV/bin/localstripe" || ! -x "$VENV/bin/aiosmtpd" ]]; then
    echo "== installing localstripe and aiosmtpd into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'localstripe==1.*' 'aiosmtpd==1.*'
fi
echo "test tools: $("$VENV/bin/pip" show localstripe 2>/dev/null | sed -n 's/^Version: /localstripe /p'), $("$VENV/bin/pip" show aiosmtpd 2>/dev/null | sed -n 's/^Version: /aiosmtpd /p')"
