#!/usr/bin/env bash
# Installs what the browser tests need: Debian's headless Chromium and its WebDriver
# (`chromium`, `chromium-driver`), and axe-core from npm for the accessibility checks (into
# $CARGO_TARGET_DIR/browser-deps, where the tests look for it). Does nothing for what is
# already there; never downloads a browser build of its own.
set -euo pipefail

TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/chengguo/target}
AXE_VERSION=4.14.1
AXE_DIR="$TARGET/browser-deps"

have() { command -v "$1" >/dev/null 2>&1; }

install_axe() {
    if [[ -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]] &&
        grep -q "\"version\": \"$AXE_VERSION\"" "$AXE_DIR/node_modules/axe-core/package.json"; then
        echo "browser-deps: axe-core $AXE_VERSION present"
        return
    fi
    if ! have npm; then
        echo "browser-deps: npm not found; install nodejs and npm for the accessibility checks" >&2
        exit 1
    fi
    mkdir -p "$AXE_DIR"
    npm install --prefix "$AXE_DIR" --no-save --no-audit --no-fund "axe-core@$AXE_VERSION" >/dev/null
    echo "browser-deps: installed axe-core $AXE_VERSION into $AXE_DIR"
}

if have chromium && have chromedriver; then
    echo "browser-deps: chromium and chromedriver present ($(chromium --version 2>/dev/null | head -n1))"
    install_axe
    exit 0
fi

if ! have apt-get; then
    echo "browser-deps: apt-get not found; install chromium and chromium-driver by hand" >&2
    exit 1
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    if have sudo; then
        SUDO="sudo"
    else
        echo "browser-deps: not root and no sudo; cannot install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# Fonts with CJK glyphs, so screenshots of the Chinese pages are readable.
$SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-noto-cjk
if ! have npm; then
    $SUDO apt-get install -y --no-install-recommends nodejs npm
fi
echo "browser-deps: installed $(chromium --version 2>/dev/null | head -n1)"
install_axe
