#!/usr/bin/env bash
# Installs what the portal's browser tests need, only when it is missing:
#   - Debian's Chromium (/usr/bin/chromium) from the distribution's packages;
#   - playwright-core and axe-core from the npm registry into tests/browser/node_modules.
# Playwright never downloads a browser: the tests launch /usr/bin/chromium via executablePath.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
browser_dir="$here/tests/browser"
chromium="${IDEABANK_CHROMIUM:-/usr/bin/chromium}"

as_root() {
    if [ "$(id -u)" = "0" ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "install-browser: need root (or sudo) to run: $*" >&2; return 1; fi
}

if [ ! -x "$chromium" ]; then
    echo "install-browser: installing Debian's chromium"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
        chromium fonts-dejavu-core >/dev/null
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "install-browser: installing Debian's nodejs and npm"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nodejs npm >/dev/null
fi

if [ ! -d "$browser_dir/node_modules/playwright-core" ] || [ ! -d "$browser_dir/node_modules/axe-core" ]; then
    echo "install-browser: installing playwright-core and axe-core (npm)"
    # No browser download: playwright-core ships none, and the tests use Debian's chromium.
    (cd "$browser_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent)
fi

"$chromium" --version
echo "install-browser: node $(node --version), playwright-core and axe-core in $browser_dir/node_modules"
