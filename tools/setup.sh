#!/bin/sh
# lipcl — installs every Debian package lipcl needs to build, test and run its examples.
# Idempotent: installs only what is missing. Works as root or through sudo.
set -eu

PACKAGES="build-essential cmake pkg-config git ocl-icd-opencl-dev opencl-headers opencl-c-headers \
pocl-opencl-icd libclblast-dev clinfo zlib1g-dev libpng-dev dataset-fashion-mnist"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "setup: all packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "setup: need root or sudo to install:$missing" >&2
    exit 1
fi

echo "setup: installing$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
echo "setup: done"
