import Glibc
import XCTest

/// Skips the calling test unless it runs as root (unshare, setpriv, mounts, other users' limits).
public func requireRoot() throws {
    try XCTSkipUnless(geteuid() == 0, "needs root")
}
