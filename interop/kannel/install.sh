#!/bin/sh
# Installs Kannel (bearerbox, smsbox) for the interop test, when it is missing and this
# machine can (root with apt-get, as on CI). Elsewhere the test says why it is skipped.
{ command -v bearerbox >/dev/null 2>&1 || [ -x /usr/sbin/bearerbox ]; } && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing kannel for the interop test (apt-get)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends kannel >/dev/null; then
        exit 0
    fi
    echo "smsgw: could not install kannel; tests/interop/test_kannel.py will be skipped" >&2
else
    echo "smsgw: kannel is not installed (apt-get install kannel); its interop test will be skipped" >&2
fi
exit 0
