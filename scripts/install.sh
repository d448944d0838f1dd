#!/usr/bin/env bash
# Builds the launcher with the Swift standard library linked statically and installs it with the
# preload library: $DESTDIR$PREFIX/bin/orphanguard and $DESTDIR$PREFIX/lib/orphanguard/liborphanguard.so
# (where the launcher looks for it). Usage: PREFIX=/usr/local DESTDIR= scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
dest=${DESTDIR:-}

swift build -c release --static-swift-stdlib
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)

install -d "$dest$prefix/bin" "$dest$prefix/lib/orphanguard"
install -m 0755 "$bin/orphanguard" "$dest$prefix/bin/orphanguard"
install -m 0644 "$bin/orphanguard_LauncherSys.resources/liborphanguard.so" \
    "$dest$prefix/lib/orphanguard/liborphanguard.so"
echo "installed $dest$prefix/bin/orphanguard and $dest$prefix/lib/orphanguard/liborphanguard.so"
