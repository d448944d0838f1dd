import Foundation

/// Polls `condition` until it holds or `timeout` seconds pass; true if it held.
@discardableResult
public func sleepUntil(timeout: Double, interval: Double = 0.002, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if condition() { return true }
        if Date() >= deadline { return false }
        usleep(UInt32(interval * 1_000_000))
    }
}

/// Seconds since `start`, in milliseconds, for reports.
public func millisecondsSince(_ start: Date) -> Double {
    Date().timeIntervalSince(start) * 1000
}

/// Waits until every process in `ids` is gone (zombies count as gone); returns the time it took in ms,
/// or nil on timeout.
public func waitAllGone(_ ids: [ProcessID], timeout: Double) -> Double? {
    let start = Date()
    let gone = sleepUntil(timeout: timeout, interval: 0.0002) { ids.allSatisfy { !$0.isAlive } }
    return gone ? millisecondsSince(start) : nil
}

/// SIGKILLs whatever is still alive of `ids`: one failed test must not leave processes for the next.
public func killLeftovers(_ ids: [ProcessID]) {
    for id in ids where id.isAlive { kill(id.pid, SIGKILL) }
}
