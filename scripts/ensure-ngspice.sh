#!/bin/sh
# Make sure ngspice (the program and its shared library) is installed before `make setup` goes on.
# Installs it with apt-get when it can (root, or sudo without a password); otherwise stops with the one
# command to run. CKT_NGSPICE_LIBRARY names the library file to look for instead of the usual places.
set -u

PACKAGES="ngspice libngspice0-dev"
APT_COMMAND="sudo apt-get update && sudo apt-get install -y $PACKAGES"

have_library() {
    if [ -n "${CKT_NGSPICE_LIBRARY:-}" ]; then
        [ -e "$CKT_NGSPICE_LIBRARY" ]
        return
    fi
    for lib in /usr/lib/*/libngspice.so* /usr/lib/libngspice.so* /usr/local/lib/libngspice.so* \
               /usr/lib64/libngspice.so* /opt/homebrew/lib/libngspice*.dylib /usr/local/lib/libngspice*.dylib; do
        [ -e "$lib" ] && return 0
    done
    return 1
}

have_ngspice() {
    command -v ngspice >/dev/null 2>&1 && have_library
}

stop() {
    echo "ckt needs ngspice (program and shared library) and could not install it." >&2
    if command -v apt-get >/dev/null 2>&1; then
        echo "Run this once, then run make again:" >&2
        echo "    $APT_COMMAND" >&2
    else
        echo "Install ngspice and libngspice with your system's package manager (macOS: brew install ngspice)," >&2
        echo "then run make again." >&2
    fi
    exit 1
}

if have_ngspice; then
    echo "ngspice found: $(command -v ngspice)"
    exit 0
fi

echo "ngspice or libngspice is missing; trying to install it ($PACKAGES)"
if ! command -v apt-get >/dev/null 2>&1; then
    stop
elif [ "$(id -u)" = "0" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $PACKAGES || stop
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n DEBIAN_FRONTEND=noninteractive apt-get update \
        && sudo -n DEBIAN_FRONTEND=noninteractive apt-get install -y $PACKAGES || stop
else
    stop
fi

have_ngspice || stop
echo "ngspice installed: $(command -v ngspice)"
