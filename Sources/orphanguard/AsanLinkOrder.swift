/// ASan's shared runtime (what gcc's `-fsanitize=address` links) aborts a program whose first library
/// is not itself, and a preloaded library comes first. `verify_asan_link_order=0` is ASan's own switch
/// for a library preloaded everywhere. The library adds it for every child it execs
/// (CShim/environ_inject.c); the launcher does the same for CMD.
enum AsanLinkOrder {
    static let variable = "ASAN_OPTIONS"
    static let option = "verify_asan_link_order=0"

    /// The ASAN_OPTIONS value to run with and the token for ORPHANGUARD_ADDED that lets the library's
    /// constructor give the program back its own value; nil when `current` already decides.
    static func adjusted(current: String?) -> (value: String, added: String)? {
        guard let current else { return (option, variable) }
        if current.contains("verify_asan_link_order") { return nil }
        return (current + ":" + option, variable + "+")
    }
}
