#!/bin/sh
# lipcl tests — installs the build into a temporary prefix, then builds a consumer with
# find_package(lipcl) and another with pkg-config, and runs both.
set -eu
build_dir="$1"
source_dir="$2"
work="$(mktemp -d /tmp/lipcl-install-XXXXXX)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/tests/install" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib64:${LD_LIBRARY_PATH:-}" "$work/consumer/consumer"
pcdir=$(dirname "$(find "$work/prefix" -name lipcl.pc | head -n 1)")
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs lipcl)
# shellcheck disable=SC2086
cc -o "$work/consumer_pc" "$source_dir/tests/install/consumer.c" $flags
LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib64:${LD_LIBRARY_PATH:-}" "$work/consumer_pc"
echo "1 passed, 0 failed"
