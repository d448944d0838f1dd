import Glibc

/// An errno from a failed system call, with the call's name.
struct SystemError: Error, CustomStringConvertible {
    let call: String
    let errno: Int32

    var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// Runs a system call, retrying on EINTR; a negative result throws the errno as a SystemError.
@discardableResult
func systemCall<T: BinaryInteger>(_ name: String, _ body: () -> T) throws -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        if errno != EINTR { throw SystemError(call: name, errno: errno) }
    }
}

/// The whole content of a (small) file, e.g. under /proc; nil if it cannot be read (ProcRead.bytes
/// says why).
func readFile(_ path: String, limit: Int = 1 << 16) -> [UInt8]? {
    try? ProcRead.bytes(path, limit: limit).get()
}

/// Monotonic time in milliseconds.
func nowMilliseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}
