import Glibc

/// Finding liborphanguard.so and making sure it can be preloaded, before anything is spawned.
enum Library {
    static let fileName = "liborphanguard.so"

    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// $ORPHANGUARD_LIBRARY, else next to the executable, the installed layout, or the SwiftPM build folder.
    static func locate() throws -> String {
        if let explicit = getenv("ORPHANGUARD_LIBRARY").map({ String(cString: $0) }), !explicit.isEmpty {
            try validate(explicit)
            return explicit
        }
        let directory = executableDirectory()
        let candidates = [
            directory + "/" + fileName,
            directory + "/../lib/orphanguard/" + fileName,
            directory + "/orphanguard_LauncherSys.resources/" + fileName,
        ]
        guard let found = candidates.first(where: { access($0, F_OK) == 0 }) else {
            throw Problem(description: "cannot find \(fileName) (looked in \(candidates.joined(separator: ", "))); set ORPHANGUARD_LIBRARY")
        }
        let path = canonical(found)
        try validate(path)
        return path
    }

    /// An ELF shared object of this machine's architecture that we can read.
    static func validate(_ path: String) throws {
        guard path.hasPrefix("/") else {
            throw Problem(description: "\(path): the library path must be absolute")
        }
        guard !path.utf8.contains(UInt8(ascii: ":")) && !path.utf8.contains(UInt8(ascii: " ")) else {
            throw Problem(description: "\(path): LD_PRELOAD cannot name a path with ':' or ' '; move the library")
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw Problem(description: "\(path): cannot read the library: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw Problem(description: "\(path): not a regular file")
        }
        guard let elf = readFile(path, limit: 4096) else {
            throw Problem(description: "\(path): cannot read the library: \(String(cString: strerror(errno)))")
        }
        guard elf.count >= 64, elf[0] == 0x7f, elf[1] == 0x45, elf[2] == 0x4c, elf[3] == 0x46 else {
            throw Problem(description: "\(path): not an ELF file")
        }
        guard elf[4] == 2, elf[5] == 1, littleEndian(elf, at: 16, bytes: 2) == 3 else {
            throw Problem(description: "\(path): not a 64-bit little-endian shared library")
        }
        let machine = littleEndian(elf, at: 18, bytes: 2)
        guard machine == expectedMachine else {
            throw Problem(description: "\(path): built for ELF machine \(machine), this is \(expectedMachine)")
        }
        // A position-independent program is ELF type 3 too; the loader refuses to preload it.
        let headersAt = littleEndian(elf, at: 32, bytes: 8)
        let headerSize = littleEndian(elf, at: 54, bytes: 2)
        for index in 0..<littleEndian(elf, at: 56, bytes: 2) {
            let offset = headersAt + index * headerSize
            if offset + 4 <= elf.count, littleEndian(elf, at: offset, bytes: 4) == 3 /* PT_INTERP */ {
                throw Problem(description: "\(path): a program, not a shared library")
            }
        }
    }

    private static func littleEndian(_ bytes: [UInt8], at offset: Int, bytes count: Int) -> Int {
        (0..<count).reversed().reduce(0) { $0 << 8 | Int(bytes[offset + $1]) }
    }

    private static var expectedMachine: UInt16 {
        #if arch(x86_64)
        return 62
        #elseif arch(arm64)
        return 183
        #else
        return 0
        #endif
    }

    /// The kernel's own name for our executable, links resolved (realpath would look at every
    /// component again, one readlink each).
    static func executableDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let path = length > 0 && buffer[0] == CChar(UInt8(ascii: "/")) ? String(cString: buffer) : canonical("/proc/self/exe")
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    private static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
