#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public struct JournalCopyReport: Sendable {
    public var records: Int
    public var bytes: Int
    public var segments: Int
    public var headHashHex: String
}

/// A consistent copy of a journal that may be live. Segments are append-only and a record is
/// never rewritten, so copying each segment up to the end of its last complete, chain-verified
/// record gives a journal that a server opens as it is: a prefix of the live one. Takes no lock.
public enum JournalBackup {
    /// Copies `source` to the new directory `destination` (refused if it already holds segments).
    ///
    /// The live segment may end in a record still being written: the copy stops before it. A bad
    /// record in a sealed segment (one with a later segment after it) is corruption, and the copy
    /// fails naming its file and offset. Every copied file and the directory are fsynced.
    public static func copy(from source: String, to destination: String) throws(StorageError) -> JournalCopyReport {
        let segments = try Segment.list(directory: source)
        try Posix.makeDirectories(destination)
        if try !Segment.list(directory: destination).isEmpty {
            throw StorageError(kind: .io, file: destination, offset: nil,
                               description: "\(destination) already holds journal segments; back up into a new directory")
        }
        let hasher = ChainHasher()
        var head = Digest.zero
        var report = JournalCopyReport(records: 0, bytes: 0, segments: 0, headHashHex: Digest.zero.hex)
        for (position, segment) in segments.enumerated() {
            guard segment.index == report.records + 1 else {
                throw StorageError(kind: .corrupt, file: segment.path, offset: 0,
                                   description: "segment \(segment.path) is named for record #\(segment.index) "
                                       + "but follows \(report.records) records")
            }
            let bytes = try Posix.readFile(segment.path)
            let isLast = position == segments.count - 1
            var validLength = 0
            var failure: StorageError?
            bytes.withUnsafeBufferPointer { buffer in
                while validLength < buffer.count {
                    guard case .record(let payload, let hash, let end) = RecordCodec.parse(buffer, at: validLength),
                          hasher.chain(head, UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[payload]))) == hash
                    else {
                        if !isLast {
                            failure = StorageError(kind: .corrupt, file: segment.path, offset: validLength,
                                                   description: "corrupt journal: \(segment.path) offset \(validLength): "
                                                       + "bad record in a sealed segment; run verify")
                        }
                        return  // the live segment: the record being written is not part of the copy
                    }
                    head = hash
                    report.records += 1
                    validLength = end
                }
            }
            if let failure { throw failure }
            try write(bytes[0..<validLength], to: Segment.join(destination, Segment.name(index: segment.index)))
            report.bytes += validLength
            report.segments += 1
            // A sealed segment ends where the next begins; past a cut in the live one there is nothing to copy.
            if validLength < bytes.count { break }
        }
        if report.segments == 0 {
            // An empty journal still needs its first segment to be a journal.
            try write([][...], to: Segment.path(directory: destination, index: 1))
            report.segments = 1
        }
        try syncDirectory(destination)
        report.headHashHex = head.hex
        return report
    }

    private static func write(_ bytes: ArraySlice<UInt8>, to path: String) throws(StorageError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.io("cannot create", file: path, errno: errno) }
        defer { Posix.close(fd) }
        var failure: Int32 = 0
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let written = Posix.write(fd, raw.baseAddress! + done, raw.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += written
            }
        }
        if failure != 0 { throw StorageError.io("cannot write", file: path, errno: failure) }
        if Posix.fullSync(fd) != 0 { throw StorageError.io("cannot sync", file: path, errno: errno) }
    }

    private static func syncDirectory(_ path: String) throws(StorageError) {
        let fd = Posix.openDirectory(path)
        guard fd >= 0 else { throw StorageError.io("cannot open directory", file: path, errno: errno) }
        defer { Posix.close(fd) }
        if Posix.fullSync(fd) != 0 { throw StorageError.io("cannot sync directory", file: path, errno: errno) }
    }
}
