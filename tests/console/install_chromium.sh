#!/bin/sh
# Installs Debian's Chromium for the web console's browser tests, when it is missing and this
# machine can (root with apt-get, as on CI). Playwright drives it; it downloads no browser of
# its own. Elsewhere the tests say why they are skipped.
{ command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; } && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the console's browser tests (apt-get)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null; then
        exit 0
    fi
    echo "smsgw: could not install chromium; tests/console will be skipped" >&2
else
    echo "smsgw: chromium is not installed (apt-get install chromium); tests/console will be skipped" >&2
fi
exit 0
