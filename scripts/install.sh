#!/usr/bin/env bash
# Builds the release launcher (one static executable: Package.swift links it so) and installs it with
# the preload library, the man pages and the shell completions:
#   $DESTDIR$PREFIX/bin/orphanguard
#   $DESTDIR$PREFIX/lib/orphanguard/liborphanguard.so      (where the launcher looks for it)
#   $DESTDIR$PREFIX/share/man/man1/orphanguard*.1
#   $DESTDIR$PREFIX/share/bash-completion/completions/orphanguard
#   $DESTDIR$PREFIX/share/zsh/site-functions/_orphanguard  (PREFIX=/usr: share/zsh/vendor-completions)
#   $DESTDIR$PREFIX/share/fish/vendor_completions.d/orphanguard.fish
# Usage: PREFIX=/usr/local DESTDIR= scripts/install.sh       (scripts/package builds its artifacts with it)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
dest=${DESTDIR:-}

# The generate-manual plugin builds the package in release mode (in .build) and writes the man
# pages next to that build; the launcher installed is that same release build.
swift package plugin generate-manual --multi-page >/dev/null
manuals=.build/plugins/GenerateManual/outputs/orphanguard
swift build -c release
bin=$(swift build -c release --show-bin-path)

# Distribution prefixes keep zsh completions in vendor-completions (Debian's zsh reads it); local
# prefixes in site-functions, which zsh reads by default.
zsh_dir=$prefix/share/zsh/site-functions
[ "$prefix" = /usr ] && zsh_dir=/usr/share/zsh/vendor-completions

install -d "$dest$prefix/bin" "$dest$prefix/lib/orphanguard" "$dest$prefix/share/man/man1" \
    "$dest$prefix/share/bash-completion/completions" "$dest$zsh_dir" \
    "$dest$prefix/share/fish/vendor_completions.d"
install -m 0755 -s "$bin/orphanguard" "$dest$prefix/bin/orphanguard"
install -m 0644 "$bin/orphanguard_LauncherSys.resources/liborphanguard.so" \
    "$dest$prefix/lib/orphanguard/liborphanguard.so"
strip --strip-unneeded "$dest$prefix/lib/orphanguard/liborphanguard.so"
install -m 0644 "$manuals"/orphanguard*.1 "$dest$prefix/share/man/man1/"
# Completion files are sourced, not run: no #! line.
"$bin/orphanguard" --generate-completion-script bash | sed '1{/^#!/d}' >"$dest$prefix/share/bash-completion/completions/orphanguard"
"$bin/orphanguard" --generate-completion-script zsh >"$dest$zsh_dir/_orphanguard"
"$bin/orphanguard" --generate-completion-script fish >"$dest$prefix/share/fish/vendor_completions.d/orphanguard.fish"
chmod 0644 "$dest$prefix/share/bash-completion/completions/orphanguard" "$dest$zsh_dir/_orphanguard" \
    "$dest$prefix/share/fish/vendor_completions.d/orphanguard.fish"
echo "installed $dest$prefix/bin/orphanguard, $dest$prefix/lib/orphanguard/liborphanguard.so, man pages and completions"
