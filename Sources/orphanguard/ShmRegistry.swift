import Glibc

/// The job's shared memory (`--clean-shm`, and with `--log`): the library appends each name a
/// process of the job creates with shm_open or sem_open to a registry file in a private folder
/// (CShim/shm_interpose.c); at job end the launcher names, or removes, those still in /dev/shm.
/// A name counts only if the file is still there, is owned by the uid that registered it, and was
/// created (its status change time) after the job started: never another job's files.
final class ShmRegistry {
    struct Entry {
        let path: String
        let bytes: Int
    }

    let folder: String
    var file: String { folder + "/names" }
    /// When the job started: a file changed before it is not the job's. The filesystem's clock is
    /// coarse (a tick behind at most), hence the margin.
    private let startedAt: timespec = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now
    }()
    private static let marginNanoseconds = 20_000_000

    /// A fresh registry, or nil (one line) where no private folder can be made.
    init?() {
        let base = (getenv("TMPDIR").map { String(cString: $0) }).flatMap { $0.hasPrefix("/") && $0.count < 150 ? $0 : nil } ?? "/tmp"
        var template = Array((base + "/orphanguard-shm-XXXXXX").utf8CString)
        guard mkdtemp(&template) != nil else {
            report("--clean-shm: cannot make a folder in \(base): \(String(cString: strerror(errno))); shared memory is not tracked")
            return nil
        }
        folder = String(cString: template)
        let fd = open(folder + "/names", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            report("--clean-shm: \(folder)/names: \(String(cString: strerror(errno))); shared memory is not tracked")
            rmdir(folder)
            return nil
        }
        close(fd)
    }

    /// The registered names still in /dev/shm that this job made.
    func leftovers() -> [Entry] {
        guard let bytes = readFile(file, limit: 1 << 24) else { return [] }
        var seen: Set<String> = []
        var result: [Entry] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 2)
            guard fields.count == 3, let uid = uid_t(String(decoding: fields[1], as: UTF8.self)) else { continue }
            let name = String(decoding: fields[2], as: UTF8.self)
            guard !name.isEmpty, !name.contains("/") else { continue }
            let path = "/dev/shm/" + (fields[0].elementsEqual("sem".utf8) ? "sem." : "") + name
            guard seen.insert(path).inserted else { continue }
            var st = stat()
            guard fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                  st.st_uid == uid, nanoseconds(st.st_ctim) >= nanoseconds(startedAt) - Self.marginNanoseconds else { continue }
            result.append(Entry(path: path, bytes: Int(st.st_size)))
        }
        return result
    }

    private func nanoseconds(_ t: timespec) -> Int { t.tv_sec * 1_000_000_000 + t.tv_nsec }

    /// The registry goes with the job.
    func remove() {
        unlink(file)
        rmdir(folder)
    }

    static func size(_ bytes: Int) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        if bytes < 1 << 20 { return String(format1: Double(bytes) / 1024) + " KiB" }
        if bytes < 1 << 30 { return String(format1: Double(bytes) / Double(1 << 20)) + " MiB" }
        return String(format1: Double(bytes) / Double(1 << 30)) + " GiB"
    }
}
