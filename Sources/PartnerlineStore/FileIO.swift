#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The raw file calls that decide durability, in one small type so that tests (and a
/// later fault-injection issue) can replace them. Errors come back as values, never
/// through a global `errno` that other code could clobber in between.
struct FileIO: Sendable {
    /// Bytes written (may be fewer than asked), or -errno.
    var write: @Sendable (_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int
    /// Data sync of a segment file (fdatasync where available): 0 or errno.
    var sync: @Sendable (_ fd: Int32) -> Int32
    /// Sync of a directory after a segment file is created or removed: 0 or errno.
    var syncDirectory: @Sendable (_ fd: Int32) -> Int32
    /// ftruncate: 0 or errno.
    var truncate: @Sendable (_ fd: Int32, _ length: Int) -> Int32

    static let posix = FileIO(
        write: { fd, bytes, count in
            let written = Posix.write(fd, bytes, count)
            return written < 0 ? -Int(errno) : written
        },
        sync: { fd in Posix.dataSync(fd) == 0 ? 0 : errno },
        syncDirectory: { fd in Posix.fullSync(fd) == 0 ? 0 : errno },
        truncate: { fd, length in Posix.truncate(fd, length) == 0 ? 0 : errno }
    )
}

/// Thin wrappers over libc, named apart from the Swift methods that call them.
enum Posix {
    static func write(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Darwin)
        return Darwin.write(fd, bytes, count)
        #else
        return Glibc.write(fd, bytes, count)
        #endif
    }

    static func dataSync(_ fd: Int32) -> Int32 {
        #if canImport(Darwin)
        return Darwin.fsync(fd)
        #else
        return Glibc.fdatasync(fd)
        #endif
    }

    static func fullSync(_ fd: Int32) -> Int32 {
        #if canImport(Darwin)
        return Darwin.fsync(fd)
        #else
        return Glibc.fsync(fd)
        #endif
    }

    static func truncate(_ fd: Int32, _ length: Int) -> Int32 {
        #if canImport(Darwin)
        return Darwin.ftruncate(fd, off_t(length))
        #else
        return Glibc.ftruncate(fd, off_t(length))
        #endif
    }

    static var errorNumber: Int32 { errno }

    static func describe(_ code: Int32) -> String {
        if let text = strerror(code) { return String(cString: text) + " (errno \(code))" }
        return "errno \(code)"
    }

    /// Opens a segment for appending (created if missing).
    static func openForAppend(_ path: String) -> Int32 {
        open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    }

    static func openForReading(_ path: String) -> Int32 {
        open(path, O_RDONLY | O_CLOEXEC)
    }

    /// Opens an existing file for writing without appending (to truncate it).
    static func openForWriting(_ path: String) -> Int32 {
        open(path, O_WRONLY | O_CLOEXEC)
    }

    static func size(ofPath path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    static func openDirectory(_ path: String) -> Int32 {
        open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    }

    static func close(_ fd: Int32) {
        #if canImport(Darwin)
        _ = Darwin.close(fd)
        #else
        _ = Glibc.close(fd)
        #endif
    }

    static func fileSize(_ fd: Int32) -> Int? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    /// Reads a whole file into memory, or from byte `start` on (a journal opened from a checkpoint
    /// reads only the part of its segment after the checkpoint).
    static func readFile(_ path: String, from start: Int = 0) throws(StorageError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.io("cannot open for reading", file: path, errno: errno) }
        defer { close(fd) }
        guard let fileSize = fileSize(fd) else { throw StorageError.io("cannot stat", file: path, errno: errno) }
        let size = max(0, fileSize - start)
        var failure: Int32 = 0
        var bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let got = pread(fd, buffer.baseAddress! + done, size - done, off_t(start + done))
                if got < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if got == 0 { break }  // the file shrank under us: take what is there
                done += got
            }
            initialized = done
        }
        if failure != 0 { throw StorageError.io("cannot read", file: path, errno: failure) }
        // A file that grew while we read: keep reading to its end.
        while true {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let got = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(start + bytes.count)) }
            if got < 0 {
                if errno == EINTR { continue }
                throw StorageError.io("cannot read", file: path, errno: errno)
            }
            if got == 0 { break }
            bytes.append(contentsOf: chunk[0..<got])
        }
        return bytes
    }

    enum EntryKind { case missing, directory, other }

    static func kind(of path: String) -> EntryKind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        return (info.st_mode & S_IFMT) == S_IFDIR ? .directory : .other
    }

    /// mkdir -p, syncing each parent whose listing changed.
    static func makeDirectories(_ path: String) throws(StorageError) {
        switch kind(of: path) {
        case .directory: return
        case .other: throw StorageError(kind: .io, file: path, offset: nil, description: "\(path) exists and is not a directory")
        case .missing: break
        }
        let parent = parentDirectory(of: path)
        if parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw StorageError.io("cannot create directory", file: path, errno: errno)
        }
        let parentFD = openDirectory(parent)
        if parentFD >= 0 {
            _ = fullSync(parentFD)
            close(parentFD)
        }
    }

    static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }

    /// Names of the entries of a directory (without "." and "..").
    static func listDirectory(_ path: String) throws(StorageError) -> [String] {
        guard let dir = opendir(path) else { throw StorageError.io("cannot list directory", file: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func remove(_ path: String) -> Bool {
        unlink(path) == 0
    }
}

extension StorageError {
    static func io(_ what: String, file: String?, errno code: Int32, offset: Int? = nil) -> StorageError {
        let place = file.map { " \($0)" } ?? ""
        return StorageError(kind: .io, file: file, offset: offset, description: "\(what)\(place): \(Posix.describe(code))")
    }
}
