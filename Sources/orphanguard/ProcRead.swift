import Glibc

/// Reads that keep the errno, so a report can say what it could not read and why.
enum ProcRead {
    struct Errno: Error { let code: Int32; init(_ code: Int32) { self.code = code } }

    static func bytes(_ path: String, limit: Int = 1 << 18) -> Result<[UInt8], Errno> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Errno(errno)) }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while data.count < limit {
            let got = read(fd, &chunk, chunk.count)
            if got < 0 && errno == EINTR { continue }
            if got < 0 { return .failure(Errno(errno)) }
            if got == 0 { break }
            data.append(contentsOf: chunk[0..<got])
        }
        return .success(data)
    }

    static func directory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func describe(_ err: Errno) -> String { String(cString: strerror(err.code)) }
}

/// The program interpreter an ELF file names (its dynamic loader), nil for a static binary.
enum ELFFile {
    static func interpreter(_ path: String) -> Result<String?, ProcRead.Errno> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ProcRead.Errno(errno)) }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 64)
        guard pread(fd, &header, 64, 0) == 64, header[0] == 0x7f, header[1] == 0x45, header[4] == 2 else {
            return .failure(ProcRead.Errno(ENOEXEC))
        }
        let tableAt = number(header, 32, 8), entrySize = number(header, 54, 2), count = number(header, 56, 2)
        guard entrySize >= 56, count < 4096 else { return .failure(ProcRead.Errno(ENOEXEC)) }
        var table = [UInt8](repeating: 0, count: entrySize * count)
        guard pread(fd, &table, table.count, off_t(tableAt)) == table.count else { return .failure(ProcRead.Errno(ENOEXEC)) }
        for index in 0..<count where number(table, index * entrySize, 4) == 3 /* PT_INTERP */ {
            let offset = number(table, index * entrySize + 8, 8), size = min(number(table, index * entrySize + 32, 8), 4096)
            var name = [UInt8](repeating: 0, count: size)
            guard pread(fd, &name, size, off_t(offset)) == size else { return .failure(ProcRead.Errno(ENOEXEC)) }
            return .success(String(decoding: name.prefix(while: { $0 != 0 }), as: UTF8.self))
        }
        return .success(nil)
    }

    private static func number(_ bytes: [UInt8], _ offset: Int, _ count: Int) -> Int {
        (0..<count).reversed().reduce(0) { $0 << 8 | Int(bytes[offset + $1]) }
    }
}
