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
        let scanner = try JournalScanner(directory: source)
        try Posix.makeDirectories(destination)
        if try !Segment.list(directory: destination).isEmpty {
            throw StorageError(kind: .io, file: destination, offset: nil,
                               description: "\(destination) already holds journal segments; back up into a new directory")
        }
        var head = Digest.zero
        var report = JournalCopyReport(records: 0, bytes: 0, segments: 0, headHashHex: Digest.zero.hex)
        // Backup's reading of a fault: in the live segment, the record still being written ends the
        // copy (it is not part of it); anywhere else the copy fails.
        func copy(_ segment: JournalScanner.SegmentView, upTo length: Int) throws(StorageError) {
            let target = Segment.join(destination, Segment.name(index: segment.segment.index))
            try write(UnsafeBufferPointer(rebasing: segment.bytes[0..<length]), to: target)
            report.bytes += length
            report.segments += 1
        }
        try scanner.walk { event throws(StorageError) in
            switch event {
            case .record(let record):
                head = record.hash
                report.records += 1
                return .proceed
            case .segmentEnd(let segment):
                try copy(segment, upTo: segment.bytes.count)
                return .proceed
            case .fault(let fault, let segment):
                guard let segment, fault.kind == .malformedRecord || fault.kind == .hashMismatch else {
                    throw fault.error(.backupStopped)
                }
                guard segment.isLast else { throw fault.error(.backupSealedSegment) }
                try copy(segment, upTo: fault.offset)
                return .stop
            }
        }
        if report.segments == 0 {
            // An empty journal still needs its first segment to be a journal.
            try write(UnsafeBufferPointer(start: nil, count: 0), to: Segment.path(directory: destination, index: 1))
            report.segments = 1
        }
        try syncDirectory(destination)
        report.headHashHex = head.hex
        return report
    }

    private static func write(_ bytes: UnsafeBufferPointer<UInt8>, to path: String) throws(StorageError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.io("cannot create", file: path, errno: errno) }
        defer { Posix.close(fd) }
        var failure: Int32 = 0
        let raw = UnsafeRawBufferPointer(bytes)
        var done = 0
        while done < raw.count {
            let written = Posix.write(fd, raw.baseAddress! + done, raw.count - done)
            if written < 0 {
                if errno == EINTR { continue }
                failure = errno
                break
            }
            done += written
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
