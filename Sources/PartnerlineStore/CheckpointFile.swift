#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A checkpoint read back: the journal position it covers and the folded state's bytes.
public struct Checkpoint: Sendable {
    public var path: String
    public var position: JournalPosition
    public var body: [UInt8]
}

/// A checkpoint file that cannot be used: cut short, not a checkpoint, or its checksum does not
/// match (a torn or damaged write). The caller logs it and falls back to an older one.
public struct CheckpointFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Checkpoint files in a journal's directory, beside its segments: `<records, 16 digits>.checkpoint`,
/// named by the number of records they cover, so the newest sorts last.
///
/// Layout (integers are 64-bit little-endian):
///
///     "PLCKPT1\n" | records | last record's segment | its offset | tail offset | head hash (32 bytes)
///     | body length | body | SHA-256 of everything before it (32 bytes)
///
/// Written atomically: a temporary file (`.checkpoint.tmp`) is written whole and fsynced, renamed
/// over its final name and the directory fsynced, so a crash leaves either the old set of
/// checkpoints or the new one, plus at most a temporary file that start removes. The checksum
/// catches what the rename cannot: a file damaged later, or cut short by a copy.
public enum CheckpointFiles {
    static let suffix = ".checkpoint"
    static let temporarySuffix = ".checkpoint.tmp"
    static let magic: [UInt8] = Array("PLCKPT1\n".utf8)
    static let headerSize = 8 + 8 * 4 + 32 + 8
    static let checksumSize = 32
    /// How many checkpoints a journal keeps: the newest, and one before it in case the newest is damaged.
    public static let kept = 2

    public static func name(records: Int) -> String {
        let digits = String(records)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits + suffix
    }

    /// The checkpoints in `directory`, newest (most records) first. Temporary files are not listed.
    public static func list(directory: String) -> [(records: Int, path: String)] {
        let names = (try? Posix.listDirectory(directory)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasSuffix(suffix), name.utf8.count == 16 + suffix.utf8.count,
                  let records = Int(name.prefix(16)), records > 0 else { return nil }
            return (records, Segment.join(directory, name))
        }.sorted { $0.0 > $1.0 }
    }

    /// The checkpoint files a backup copies, newest first (the same as `list`).
    public static func paths(in directory: String) -> [String] { list(directory: directory).map(\.path) }

    /// Removes temporary files a crash left half-written; returns their paths.
    @discardableResult
    public static func removeTemporaries(directory: String) -> [String] {
        let names = (try? Posix.listDirectory(directory)) ?? []
        var removed: [String] = []
        for name in names where name.hasSuffix(temporarySuffix) {
            let path = Segment.join(directory, name)
            if Posix.remove(path) { removed.append(path) }
        }
        return removed
    }

    /// The file's bytes for a body covering `position`.
    public static func encode(_ body: [UInt8], position: JournalPosition) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerSize + body.count + checksumSize)
        bytes.append(contentsOf: magic)
        func u64(_ value: Int) { withUnsafeBytes(of: UInt64(value).littleEndian) { bytes.append(contentsOf: $0) } }
        u64(position.records)
        u64(position.last.segment)
        u64(position.last.offset)
        u64(position.tailOffset)
        let head = Array(position.headHashHex.utf8).withUnsafeBufferPointer { Hex.decodeDigest($0, at: 0) } ?? .zero
        head.withUnsafeBytes { bytes.append(contentsOf: $0) }
        u64(body.count)
        bytes.append(contentsOf: body)
        let sum = ChainHasher().chain(.zero, bytes)
        sum.withUnsafeBytes { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Reads and checks a checkpoint file.
    public static func load(path: String) throws(CheckpointFileError) -> Checkpoint {
        let bytes: [UInt8]
        do {
            bytes = try Posix.readFile(path)
        } catch {
            throw CheckpointFileError(path: path, reason: "cannot read: \(error.description)")
        }
        return try decode(bytes, path: path)
    }

    static func decode(_ bytes: [UInt8], path: String) throws(CheckpointFileError) -> Checkpoint {
        func fail(_ reason: String) -> CheckpointFileError { CheckpointFileError(path: path, reason: reason) }
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            throw fail("not a checkpoint file (no PLCKPT1 header)")
        }
        guard bytes.count >= headerSize + checksumSize else {
            throw fail("cut short: \(bytes.count) bytes, less than a header and checksum")
        }
        func u64(_ at: Int) -> Int {
            var value: UInt64 = 0
            for index in 0..<8 { value |= UInt64(bytes[at + index]) << (8 * UInt64(index)) }
            return Int(truncatingIfNeeded: value)
        }
        let bodyLength = u64(8 + 32 + 32)
        guard bodyLength >= 0, bodyLength == bytes.count - headerSize - checksumSize else {
            throw fail("cut short or overlong: the header says \(bodyLength) body bytes, the file holds \(bytes.count - headerSize - checksumSize)")
        }
        let content = bytes.count - checksumSize
        let sum = bytes.withUnsafeBytes { ChainHasher().chain(.zero, UnsafeRawBufferPointer(rebasing: $0[0..<content])) }
        let stored = bytes.withUnsafeBytes { raw in Digest { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[content...])) } }
        guard sum == stored else { throw fail("checksum mismatch (the file is damaged)") }
        let head = bytes.withUnsafeBytes { raw in Digest { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[40..<72])) } }
        let position = JournalPosition(records: u64(8), headHashHex: head.hex,
                                       last: RecordLocation(segment: u64(16), offset: u64(24)), tailOffset: u64(32))
        return Checkpoint(path: path, position: position, body: Array(bytes[headerSize..<content]))
    }

    /// Writes a checkpoint atomically (see the type's comment), then removes all but the newest
    /// `kept`. `midWrite`, when given, runs once half of the temporary file is written (a test
    /// seam: a crash test stops the writer there). Returns the checkpoint's path.
    @discardableResult
    public static func write(_ body: [UInt8], position: JournalPosition, directory: String, keep: Int = kept,
                             midWrite: ((String) -> Void)? = nil) throws(StorageError) -> String {
        let bytes = encode(body, position: position)
        let final = Segment.join(directory, name(records: position.records))
        let temporary = final + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.io("cannot create", file: temporary, errno: errno) }
        var closed = false
        defer { if !closed { Posix.close(fd) } }
        let half = bytes.count / 2
        var done = 0
        var failure: Int32 = 0
        bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let limit = midWrite != nil && done < half ? half : raw.count
                let written = Posix.write(fd, raw.baseAddress! + done, limit - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += written
                if done == half, let midWrite { midWrite(temporary) }
            }
        }
        if failure != 0 {
            _ = Posix.remove(temporary)
            throw StorageError.io("cannot write", file: temporary, errno: failure)
        }
        if Posix.fullSync(fd) != 0 {
            let code = errno
            _ = Posix.remove(temporary)
            throw StorageError.io("cannot sync", file: temporary, errno: code)
        }
        Posix.close(fd)
        closed = true
        guard rename(temporary, final) == 0 else {
            let code = errno
            _ = Posix.remove(temporary)
            throw StorageError.io("cannot rename to \(final)", file: temporary, errno: code)
        }
        let directoryFD = Posix.openDirectory(directory)
        guard directoryFD >= 0 else { throw StorageError.io("cannot open directory", file: directory, errno: errno) }
        defer { Posix.close(directoryFD) }
        if Posix.fullSync(directoryFD) != 0 { throw StorageError.io("cannot sync directory", file: directory, errno: errno) }
        prune(directory: directory, keep: keep)
        return final
    }

    /// Removes all but the newest `keep` checkpoints.
    public static func prune(directory: String, keep: Int = kept) {
        for old in list(directory: directory).dropFirst(max(1, keep)) { _ = Posix.remove(old.path) }
    }
}
