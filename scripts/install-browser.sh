#!/usr/bin/env bash
# Installs what the browser end-to-end tests (`cargo test --test e2e`) need:
# Debian's `chromium` and `chromium-driver`, and axe-core (the accessibility
# checker, from the npm registry) into a folder outside the source tree.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install Chromium and ChromeDriver (/usr/bin/chromium, /usr/bin/chromedriver) to run the browser tests" >&2
        exit 1
    fi
    SUDO=""
    if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi
    echo "== installing chromium and chromium-driver"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver fonts-dejavu-core >/dev/null
fi

# axe-core is plain JavaScript: the tests inject axe.min.js into pages.
AXE_DIR="${AXE_DIR:-$PWD/target/axe}"
if [[ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]]; then
    if command -v npm >/dev/null 2>&1; then
        echo "== installing axe-core into $AXE_DIR"
        mkdir -p "$AXE_DIR"
        npm install --silent --no-audit --no-fund --prefix "$AXE_DIR" axe-core@4 >/dev/null
    else
        echo "npm is missing: install Node.js and npm (the accessibility test needs axe-core)" >&2
        exit 1
    fi
fi
echo "browser: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
