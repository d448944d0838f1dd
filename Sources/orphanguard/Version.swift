// SPDX-License-Identifier: Apache-2.0

extension Orphanguard {
    /// The release: the one place it is written. `--version`, the tarball, the wheel and the .deb
    /// (scripts/package) take it from here.
    static let version = "0.2.0"
}
