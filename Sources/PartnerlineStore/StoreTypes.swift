#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// When a record counts as durable (`GroupCommit` holds the one branch per policy).
/// - `always`: fsync before completing, no waiting window.
/// - `batch`: group commit, one fsync per batch (optionally waiting `batchWindowMicros`).
/// - `os`: complete after write(); the kernel decides when it reaches the disk.
public enum FsyncPolicy: String, Sendable, Codable, CaseIterable {
    case always, batch, os
}

public struct JournalOptions: Sendable {
    public var policy: FsyncPolicy = .batch
    /// batch: how long to wait for more records after the first; 0 = natural batching only.
    /// Applied by the journal's one batcher: its appender queue, or the caller of `Journal.write`.
    public var batchWindowMicros: Int = 0
    /// Most records in one write + fsync (whole groups; a larger group is written alone).
    public var maxBatchRecords: Int = 4096
    /// A new segment is started before a batch that would take the current one past this
    /// size (a single batch larger than this still goes into one segment).
    public var segmentMaxBytes: Int = 64 << 20

    /// The raw file calls; tests replace them to count or inject faults.
    var fileIO: FileIO = .posix

    public init(
        policy: FsyncPolicy = .batch,
        batchWindowMicros: Int = 0,
        maxBatchRecords: Int = 4096,
        segmentMaxBytes: Int = 64 << 20
    ) {
        self.policy = policy
        self.batchWindowMicros = batchWindowMicros
        self.maxBatchRecords = maxBatchRecords
        self.segmentMaxBytes = segmentMaxBytes
    }
}

public struct StorageError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        case io, corrupt, locked, invalidPayload
    }

    public let kind: Kind
    /// The file concerned, as a full path, when there is one.
    public let file: String?
    /// Byte offset in `file` (for .corrupt: the start of the bad record).
    public let offset: Int?
    public let description: String

    public init(kind: Kind, file: String?, offset: Int?, description: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.description = description
    }
}

public struct RecoveryReport: Sendable {
    /// Valid records replayed.
    public var records: Int
    /// Set when a torn tail was cut (full path of the segment).
    public var truncatedFile: String?
    public var truncatedAtOffset: Int?
    public var truncatedBytes: Int
    /// Why the tail was judged torn.
    public var reason: String?
    public var headHashHex: String
}

public struct JournalVerifyReport: Sendable {
    /// A fault names its file, the offset of the bad record and why (`JournalFault`).
    public typealias Fault = JournalFault

    public var directory: String
    public var records: Int
    public var firstPayload: [UInt8]?
    public var lastPayload: [UInt8]?
    public var headHashHex: String
    /// Empty when the journal verifies.
    public var faults: [Fault]
    /// The chain's hash right after record #n, when asked for (to check a receipt from HEAD);
    /// nil if the journal has fewer valid records.
    public var hashAfterRecord: String? = nil
}

/// A small mutex for the state shared between appenders and the writer.
final class Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// Segment files: `%016d.journal`, named by the index (from 1) of their first record.
struct Segment {
    var index: Int
    var path: String

    static let suffix = ".journal"

    static func name(index: Int) -> String {
        let digits = String(index)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits + suffix
    }

    static func path(directory: String, index: Int) -> String {
        join(directory, name(index: index))
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The index a segment file name stands for, or nil if it is not a segment name.
    static func index(fromName name: String) -> Int? {
        let bytes = Array(name.utf8)
        guard bytes.count == 16 + suffix.utf8.count, name.hasSuffix(suffix) else { return nil }
        var value = 0
        for byte in bytes[0..<16] {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }

    /// The segments of a journal directory, in order.
    static func list(directory: String) throws(StorageError) -> [Segment] {
        try Posix.listDirectory(directory)
            .compactMap { name in index(fromName: name).map { Segment(index: $0, path: join(directory, name)) } }
            .sorted { $0.index < $1.index }
    }
}

/// A point in a journal that a checkpoint covers: the first `records` records, the last of which
/// starts at `last` and hashes to `headHashHex`; the records after it (the tail) start at
/// `tailOffset` in the same segment (or in the next segment, if that one ends there).
public struct JournalPosition: Sendable, Equatable, CustomStringConvertible {
    public var records: Int
    public var headHashHex: String
    public var last: RecordLocation
    public var tailOffset: Int

    public init(records: Int, headHashHex: String, last: RecordLocation, tailOffset: Int) {
        self.records = records
        self.headHashHex = headHashHex
        self.last = last
        self.tailOffset = tailOffset
    }

    public var description: String {
        "records=\(records) head=\(headHashHex.prefix(16)) tail=\(Segment.name(index: last.segment))@\(tailOffset)"
    }
}

/// The journal does not hold what a checkpoint says it covers (the record before the tail is
/// missing, cut short, or hashes differently: a journal restored from an older backup, or a
/// checkpoint of another journal). Nothing was read or changed; the caller tries an older
/// checkpoint or replays the whole journal.
public struct JournalPositionMismatch: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
