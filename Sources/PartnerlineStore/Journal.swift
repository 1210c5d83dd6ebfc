import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Append-only journal with group commit. Thread-safe; @unchecked Sendable with internal
/// locking/queues.
///
/// Records reach the file by one of two doors, each with ONE batcher in front of it:
/// - `write(_:)`: the caller is the batcher. It hands over one group (its whole batch) and the
///   group is written and, per the fsync policy, synced on the caller's own thread before the call
///   returns. A cluster shard writes this way: the writes queued on its serial queue are the batch,
///   so the records are not batched a second time and no thread hop is spent getting there and back.
/// - `append`/`appendBatch`: the journal is the batcher. Appenders put records on a lock-protected
///   pending list; one writer, a serial DispatchQueue, takes what is pending (whole groups, up to
///   `maxBatchRecords`, after the `batch` window), writes it with one write and syncs it per policy,
///   and only then runs the completions, in append order. Records appended meanwhile form the next
///   batch. The accounts journal (and tools) write this way.
/// Both doors end in `commit(_:)` on `queue` (a `write` runs there by `queue.sync`, on the caller's
/// thread), so the file has one writer at a time. State touched only by the writer lives in the
/// "writer" section below; state shared with appenders is guarded by `lock`.
public final class Journal: @unchecked Sendable {
    public typealias Completion = @Sendable (Result<Void, StorageError>) -> Void
    /// Like `Completion`, with where each record of the group was written (for an index of history).
    public typealias LocatedCompletion = @Sendable (Result<[RecordLocation], StorageError>) -> Void

    /// One append call: a single record, or a group that is written in one batch, all or nothing.
    private struct Entry {
        var payloads: [[UInt8]]
        var rejection: StorageError?
        var completion: LocatedCompletion
        /// When it was appended (monotonic ns): the `batch` window counts from the first pending entry.
        var queuedAt: UInt64
    }

    /// The journal's directory (its segments, and its checkpoints beside them).
    public let directory: String
    private let options: JournalOptions
    /// Window, size and sync per policy (shared with the cluster shard, which batches for `write`).
    private let rule: GroupCommit
    private let io: FileIO
    private let queue: DispatchQueue
    /// Signalled (once) to cut a `batch` window short when the batch is full.
    private let windowWake = DispatchSemaphore(value: 0)

    // Shared with appenders, guarded by `lock`.
    private let lock = Lock()
    private var pending: [Entry] = []
    /// Records in `pending` (a group counts each of its records).
    private var pendingRecords = 0
    private var writerScheduled = false
    /// The writer is waiting out a `batch` window; an append that fills the batch wakes it.
    private var windowWaiting = false
    private var closed = false
    private var publishedHead: Digest
    private var publishedCount: Int
    /// Where the last durable record starts and ends (nil for an empty journal), for checkpoints.
    private var publishedLast: (location: RecordLocation, end: Int)?
    private var syncs = 0
    private var writes = 0

    // Writer: touched only on `queue` (or before the journal is shared / after it is closed).
    private var directoryFD: Int32
    private var segmentFD: Int32
    private var segmentPath: String
    /// The current segment's name: the index of its first record.
    private var segmentIndex: Int
    /// Length of the current segment up to its last completed record.
    private var segmentLength: Int
    /// A failed write or fsync may have left bytes past `segmentLength`; cut them before writing.
    private var tailNeedsRepair = false
    private var head: Digest
    private var count: Int
    private let hasher = ChainHasher()
    private var buffer: [UInt8] = []
    /// Offset in `buffer` where each record of the batch begins.
    private var starts: [Int] = []
    private var spare: [Entry] = []
    private var filesClosed = false

    private init(
        directory: String, options: JournalOptions, directoryFD: Int32, segmentFD: Int32,
        segmentPath: String, segmentIndex: Int, segmentLength: Int, head: Digest, count: Int,
        last: (location: RecordLocation, end: Int)?
    ) {
        self.segmentIndex = segmentIndex
        self.directory = directory
        self.options = options
        self.rule = GroupCommit(options)
        self.io = options.fileIO
        self.queue = DispatchQueue(label: "partnerline.journal")
        self.directoryFD = directoryFD
        self.segmentFD = segmentFD
        self.segmentPath = segmentPath
        self.segmentLength = segmentLength
        self.head = head
        self.count = count
        self.publishedHead = head
        self.publishedCount = count
        self.publishedLast = last
    }

    deinit {
        if !filesClosed {
            Posix.close(segmentFD)
            Posix.close(directoryFD)
        }
    }

    // MARK: Public API

    /// Opens or creates the journal directory, reads every record in order calling
    /// `replay(payload)`, verifying each hash and the chain. A bad record at the tail
    /// (incomplete line, bad length, bad hex, hash mismatch) with no valid record after it
    /// is a torn tail: the file is truncated there and the report says so (the caller logs
    /// it — never silent). A bad record with valid data after it is corruption: open throws
    /// StorageError(kind: .corrupt, file:, offset:) and changes nothing. `replay` may
    /// already have seen the records before the corrupt one when that happens.
    ///
    /// The directory is locked (flock) while the journal is open: a second open throws
    /// `.locked`. An error thrown by `replay` is rethrown as is.
    public static func open(
        directory: String, options: JournalOptions,
        replay: ([UInt8]) throws -> Void
    ) throws -> (Journal, RecoveryReport) {
        try open(directory: directory, options: options, replayLocated: { payload, _ in try replay(payload) })
    }

    /// `open`, also telling `replayLocated` where each record sits (to build an index of history).
    public static func open(
        directory: String, options: JournalOptions,
        replayLocated replay: ([UInt8], RecordLocation) throws -> Void
    ) throws -> (Journal, RecoveryReport) {
        try open(directory: directory, options: options, from: nil, replayLocated: replay)
    }

    /// `open`, replaying only the records after `position` (the tail a checkpoint does not cover).
    /// First the record just before the tail is read at `position.last` and must end at
    /// `position.tailOffset` and hash to `position.headHashHex`; if not, `JournalPositionMismatch`
    /// is thrown before anything is replayed or changed (and the lock is released). The tail is
    /// then walked like a whole journal: chain checked from the checkpoint's head, a torn tail cut,
    /// corruption refused. The report's `records` counts every record, covered or replayed.
    public static func open(
        directory: String, options: JournalOptions, from position: JournalPosition?,
        replayLocated replay: ([UInt8], RecordLocation) throws -> Void
    ) throws -> (Journal, RecoveryReport) {
        var options = options
        options.maxBatchRecords = max(1, options.maxBatchRecords)
        options.segmentMaxBytes = max(1, options.segmentMaxBytes)
        options.batchWindowMicros = max(0, options.batchWindowMicros)

        try Posix.makeDirectories(directory)
        let directoryFD = Posix.openDirectory(directory)
        guard directoryFD >= 0 else { throw StorageError.io("cannot open directory", file: directory, errno: errno) }
        if let code = lockDirectory(directoryFD) {
            Posix.close(directoryFD)
            if code == EWOULDBLOCK {
                throw StorageError(
                    kind: .locked, file: directory, offset: nil,
                    description: "journal \(directory) is already open (locked by this or another process)")
            }
            throw StorageError.io("cannot lock directory", file: directory, errno: code)
        }
        do {
            let recovered = try recover(directory: directory, directoryFD: directoryFD, io: options.fileIO, from: position,
                                        replay: replay)
            let fd = Posix.openForAppend(recovered.segmentPath)
            guard fd >= 0 else { throw StorageError.io("cannot open for appending", file: recovered.segmentPath, errno: errno) }
            guard let length = Posix.fileSize(fd) else {
                let code = errno
                Posix.close(fd)
                throw StorageError.io("cannot stat", file: recovered.segmentPath, errno: code)
            }
            let journal = Journal(
                directory: directory, options: options, directoryFD: directoryFD, segmentFD: fd,
                segmentPath: recovered.segmentPath, segmentIndex: recovered.segmentIndex, segmentLength: length, head: recovered.head,
                count: recovered.report.records, last: recovered.last)
            return (journal, recovered.report)
        } catch {
            Posix.close(directoryFD)
            throw error
        }
    }

    /// Queues one record. `completion` runs once the record is written (and fsynced, for
    /// always/batch) or has failed; completions run in append order, on the journal's
    /// internal queue (callers hop to their own queue). On a write/fsync failure every
    /// record of that batch fails with .io, the file is truncated back to its last durable
    /// length and the chain is not advanced, so a later append can succeed when the fault
    /// clears. A payload containing '\n' fails with .invalidPayload (in order, like the rest).
    public func append(_ payload: [UInt8], completion: @escaping Completion) {
        appendBatch([payload], completion: completion)
    }

    /// Queues several records that must stand or fall together: they go into the same write
    /// and fsync, in order, and `completion` runs once for all of them. A caller that numbers
    /// its records (a room's seq) uses this so a failed write can never leave a gap followed by
    /// later records. A group larger than maxBatchRecords is still written whole.
    public func appendBatch(_ payloads: [[UInt8]], completion: @escaping Completion) {
        appendBatch(payloads, locatedCompletion: { completion($0.map { _ in () }) })
    }

    /// `appendBatch`, with the location of each record (in order) on success.
    public func appendBatch(_ payloads: [[UInt8]], locatedCompletion completion: @escaping LocatedCompletion) {
        let rejection: StorageError? = payloads.contains(where: Self.containsNewline) ? Self.newlineRejection : nil
        let entry = Entry(payloads: payloads, rejection: rejection, completion: completion,
                          queuedAt: DispatchTime.now().uptimeNanoseconds)
        enum Action { case none, schedule, wake, closed }
        let action: Action = lock.withLock {
            if closed { return .closed }
            pending.append(entry)
            pendingRecords += payloads.count
            if windowWaiting && rule.waitMicros(holding: pendingRecords) == 0 {
                windowWaiting = false
                return .wake
            }
            if writerScheduled { return .none }
            writerScheduled = true
            return .schedule
        }
        switch action {
        case .none:
            break
        case .wake:
            windowWake.signal()
        case .schedule:
            queue.async { self.drain() }
        case .closed:
            let error = closedError
            queue.async { completion(.failure(error)) }
        }
    }

    /// Writes `payloads` as one group, now, on the calling thread: one write and, under `always` and
    /// `batch`, one fdatasync, all or nothing, before it returns the location of each record (in
    /// order). For a caller that is its own batcher (a cluster shard hands over everything its queue
    /// gathered): no window is waited and `maxBatchRecords` is not applied here, since the caller
    /// already did both (see `GroupCommit`). On a write/fsync failure nothing of the group counts as
    /// written, the file is cut back to its last durable length and the chain is not advanced, like
    /// a failed `appendBatch`. Must not be called from a completion of `append`.
    public func write(_ payloads: [[UInt8]]) -> Result<[RecordLocation], StorageError> {
        dispatchPrecondition(condition: .notOnQueue(queue))
        if payloads.contains(where: Self.containsNewline) { return .failure(Self.newlineRejection) }
        if lock.withLock({ closed }) { return .failure(closedError) }
        // Mutual exclusion with the appender door; an idle serial queue runs the block right here,
        // on the caller's thread, so this costs no thread switch.
        return queue.sync {
            commit(CollectionOfOne(payloads)).map { starts in
                let base = segmentLength - buffer.count
                return starts.map { RecordLocation(segment: segmentIndex, offset: base + $0) }
            }
        }
    }

    /// The window, batch size and sync of this journal's policy, for a caller that batches for `write`.
    public var groupCommit: GroupCommit { rule }

    /// Reads records back from this journal's segments (HISTORY beyond the in-memory window).
    public var reader: JournalReader { JournalReader(directory: directory) }

    /// Hash of the last durable record (64 zero digits for an empty journal).
    public var headHashHex: String {
        lock.withLock { publishedHead }.hex
    }

    /// Durable records.
    public var recordCount: Int {
        lock.withLock { publishedCount }
    }

    /// Durable records and the hash of the last of them, read together: a receipt must pair
    /// the two (reading them one after the other could straddle a batch).
    public var durableHead: (records: Int, hashHex: String) {
        let (count, digest) = lock.withLock { (publishedCount, publishedHead) }
        return (count, digest.hex)
    }

    /// The durable records, their head hash and where the last one sits, read together: what a
    /// checkpoint of the state folded from exactly these records covers. Nil for an empty journal.
    public var durablePosition: JournalPosition? {
        let (count, digest, last) = lock.withLock { (publishedCount, publishedHead, publishedLast) }
        guard let last, count > 0 else { return nil }
        return JournalPosition(records: count, headHashHex: digest.hex, last: last.location, tailOffset: last.end)
    }

    /// Blocks until everything appended before the call has completed (for shutdown and
    /// tests). Must not be called from a completion.
    public func flush() {
        dispatchPrecondition(condition: .notOnQueue(queue))
        // A drain that is queued or running takes every pending record before it ends.
        queue.sync {}
    }

    /// Flush, then close files (and release the directory lock). Later appends fail with .io.
    public func close() {
        lock.withLock { closed = true }
        flush()
        queue.sync {
            guard !filesClosed else { return }
            filesClosed = true
            Posix.close(segmentFD)
            Posix.close(directoryFD)
        }
    }

    // MARK: Internal counters (tests)

    /// Data-file syncs done for batches.
    var fsyncCount: Int { lock.withLock { syncs } }
    /// Batches written.
    var writeCount: Int { lock.withLock { writes } }

    // MARK: Writer

    private static let newlineRejection = StorageError(
        kind: .invalidPayload, file: nil, offset: nil,
        description: "a journal payload must not contain a newline (byte 0x0A)")

    private var closedError: StorageError {
        StorageError(kind: .io, file: directory, offset: nil, description: "journal \(directory) is closed")
    }

    private static func containsNewline(_ payload: [UInt8]) -> Bool {
        payload.withUnsafeBytes { raw in
            raw.count > 0 && memchr(raw.baseAddress!, Int32(RecordCodec.newline), raw.count) != nil
        }
    }

    /// The appender door's batcher: waits out the `batch` window (counted from the first pending
    /// record), takes whole groups up to `maxBatchRecords`, commits them, runs their completions,
    /// and goes on until nothing is pending.
    private func drain() {
        while true {
            waitOutWindow()
            var batch: [Entry] = []
            swap(&batch, &spare)
            let more: Bool = lock.withLock {
                if pending.isEmpty {
                    writerScheduled = false
                    return false
                }
                // Whole entries only, so a group is never split across two writes.
                let taken = rule.groupsInNextWrite(pending.lazy.map(\.payloads.count))
                pendingRecords -= pending[0..<taken].reduce(0) { $0 + $1.payloads.count }
                if taken == pending.count {
                    swap(&batch, &pending)
                } else {
                    batch.append(contentsOf: pending[0..<taken])
                    pending.removeFirst(taken)
                }
                return true
            }
            guard more else { return }
            process(batch)
            batch.removeAll(keepingCapacity: true)
            spare = batch
        }
    }

    /// Under `batch` with a window: waits until the window that began with the first pending record
    /// is over, or until an append fills the batch (it signals `windowWake`).
    private func waitOutWindow() {
        let wait: Int = lock.withLock {
            guard let first = pending.first else { return 0 }
            let waited = Int((DispatchTime.now().uptimeNanoseconds &- first.queuedAt) / 1000)
            let wait = rule.waitMicros(holding: pendingRecords) - waited
            if wait > 0 { windowWaiting = true }
            return wait
        }
        guard wait > 0 else { return }
        if windowWake.wait(timeout: .now() + .microseconds(wait)) == .timedOut {
            // An append may have signalled between the timeout and here: take that signal too, so
            // the next window does not end at once.
            let signalled = lock.withLock {
                defer { windowWaiting = false }
                return !windowWaiting
            }
            if signalled { windowWake.wait() }
        }
    }

    /// Commits an appender batch and answers each entry, in order.
    private func process(_ batch: [Entry]) {
        let outcome = commit(batch.lazy.filter { $0.rejection == nil }.map(\.payloads))
        // The batch went into the current segment (after any roll) and ends at its durable length.
        let base = segmentLength - buffer.count
        var next = 0
        for entry in batch {
            if let rejection = entry.rejection {
                entry.completion(.failure(rejection))
                continue
            }
            switch outcome {
            case .failure(let failure):
                entry.completion(.failure(failure))
            case .success(let starts):
                let locations = starts[next..<(next + entry.payloads.count)].map {
                    RecordLocation(segment: segmentIndex, offset: base + $0)
                }
                next += entry.payloads.count
                entry.completion(.success(locations))
            }
        }
    }

    /// Both doors end here (on `queue`): encodes the groups into one buffer (chaining the hashes),
    /// writes it, syncs it per policy and, only if all of that worked, advances and publishes the
    /// head. Returns where each record begins in `buffer` (the buffer ends at `segmentLength`).
    private func commit(_ groups: some Sequence<[[UInt8]]>) -> Result<[Int], StorageError> {
        buffer.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        var newHead = head
        for payloads in groups {
            for payload in payloads {
                starts.append(buffer.count)
                newHead = RecordCodec.encode(payload, previous: newHead, hasher: hasher, into: &buffer)
            }
        }
        guard !starts.isEmpty else { return .success([]) }
        if let failure = writeAndSync() { return .failure(failure) }
        head = newHead
        count += starts.count
        let (head, count) = (head, count)
        let last = (RecordLocation(segment: segmentIndex, offset: segmentLength - buffer.count + starts[starts.count - 1]),
                    segmentLength)
        lock.withLock {
            publishedHead = head
            publishedCount = count
            publishedLast = last
        }
        return .success(starts)
    }

    /// Writes `buffer` to the current segment (rolling first if it would grow past
    /// `segmentMaxBytes`) with one write, then syncs it: one branch per fsync policy. On failure
    /// nothing counts as written: the segment is cut back to `segmentLength`.
    private func writeAndSync() -> StorageError? {
        if filesClosed { return closedError }
        if tailNeedsRepair, let error = repairTail() { return error }
        if segmentLength > 0, segmentLength + buffer.count > options.segmentMaxBytes, let error = roll() {
            return error
        }
        if let error = writeBuffer() { return error }
        switch options.policy {
        case .always, .batch:
            // Durable before anyone is answered: one fdatasync covers the whole batch (`batch`
            // differs from `always` only in the window its batcher may wait before writing).
            lock.withLock { syncs += 1 }
            let code = io.sync(segmentFD)
            if code != 0 {
                // Never retry an fsync of the same data (after a failed fsync the kernel may
                // have dropped the dirty pages): cut the batch off and fail it.
                tailNeedsRepair = true
                _ = repairTail()
                return StorageError.io("fsync failed", file: segmentPath, errno: code, offset: segmentLength)
            }
        case .os:
            // Answered once the kernel has the bytes: a crash of the process loses nothing, a power
            // cut can lose what the kernel had not written back yet.
            break
        }
        segmentLength += buffer.count
        return nil
    }

    /// One write of the whole buffer (retrying short writes and EINTR); a failure cuts the tail.
    private func writeBuffer() -> StorageError? {
        lock.withLock { writes += 1 }
        var written = 0
        let total = buffer.count
        let writeError: Int32? = buffer.withUnsafeBytes { raw in
            while written < total {
                let result = io.write(segmentFD, raw.baseAddress! + written, total - written)
                if result == -Int(EINTR) { continue }
                if result < 0 { return Int32(-result) }
                if result == 0 { return EIO }
                written += result
            }
            return nil
        }
        guard let code = writeError else { return nil }
        tailNeedsRepair = true
        _ = repairTail()
        return StorageError.io("write failed", file: segmentPath, errno: code, offset: segmentLength)
    }

    /// Cuts the current segment back to `segmentLength` and makes that durable.
    private func repairTail() -> StorageError? {
        let code = io.truncate(segmentFD, segmentLength)
        if code != 0 {
            return StorageError.io("cannot truncate after a failed write", file: segmentPath, errno: code, offset: segmentLength)
        }
        if options.policy != .os {
            let code = io.sync(segmentFD)
            if code != 0 {
                return StorageError.io("cannot sync after truncating", file: segmentPath, errno: code, offset: segmentLength)
            }
        }
        tailNeedsRepair = false
        return nil
    }

    /// Starts a new segment named by the index of the next record; the directory is
    /// synced so the new file survives a crash. On failure the current segment stays.
    private func roll() -> StorageError? {
        let path = Segment.path(directory: directory, index: count + 1)
        let fd = Posix.openForAppend(path)
        guard fd >= 0 else { return StorageError.io("cannot create segment", file: path, errno: errno) }
        guard let size = Posix.fileSize(fd), size == 0 else {
            Posix.close(fd)
            return StorageError(
                kind: .io, file: path, offset: nil,
                description: "new segment \(path) already holds data; refusing to append to it")
        }
        let code = io.syncDirectory(directoryFD)
        if code != 0 {
            Posix.close(fd)
            return StorageError.io("cannot sync directory after creating", file: path, errno: code)
        }
        Posix.close(segmentFD)
        segmentFD = fd
        segmentPath = path
        segmentIndex = count + 1
        segmentLength = 0
        return nil
    }

    // MARK: Recovery

    /// Takes the journal's exclusive flock, or returns the errno why not. A held lock is retried
    /// for up to two seconds before it counts as "in use": a process forked elsewhere in this
    /// program (a test spawning a subprocess, say) shares the lock through its copy of the
    /// close-on-exec fd until it execs, which takes milliseconds. A real second server holds it
    /// for good and is still refused.
    private static func lockDirectory(_ fd: Int32) -> Int32? {
        for attempt in 0..<20 {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return nil }
            let code = errno
            guard code == EWOULDBLOCK, attempt < 19 else { return code }
            usleep(100_000)
        }
        return EWOULDBLOCK
    }

    private struct Recovered {
        var report: RecoveryReport
        var head: Digest
        var segmentPath: String
        var segmentIndex: Int
        var last: (location: RecordLocation, end: Int)?
    }

    /// Whether the journal in `directory` holds `position`: the record just before the tail is where
    /// the position says, ends at its tail offset and has its head hash. Throws
    /// `JournalPositionMismatch` saying why not. Read-only, takes no lock (backup checks a copy with it).
    public static func checkPosition(directory: String, _ position: JournalPosition) throws {
        _ = try checkAnchor(directory: directory, position)
    }

    /// The record just before a checkpoint's tail, as the checkpoint describes it, or why not.
    private static func checkAnchor(directory: String, _ position: JournalPosition) throws -> (start: JournalScanner.Start, segments: [Segment]) {
        guard position.records > 0, position.last.segment >= 1, position.last.segment <= position.records,
              position.last.offset >= 0, position.tailOffset > position.last.offset,
              let expected = position.headHashHex.utf8.count == 64
                ? Array(position.headHashHex.utf8).withUnsafeBufferPointer({ Hex.decodeDigest($0, at: 0) }) : nil
        else { throw JournalPositionMismatch("the checkpoint's position (\(position)) is not a possible one") }
        let all = try Segment.list(directory: directory)
        guard let first = all.firstIndex(where: { $0.index == position.last.segment }) else {
            throw JournalPositionMismatch("the journal has no segment \(Segment.name(index: position.last.segment)), where the checkpoint's last record is")
        }
        let path = all[first].path
        let fd = Posix.openForReading(path)
        guard fd >= 0 else { throw StorageError.io("cannot open for reading", file: path, errno: errno) }
        defer { Posix.close(fd) }
        let length = position.tailOffset - position.last.offset
        var bytes = [UInt8](repeating: 0, count: length)
        var got = 0
        while got < length {
            let result = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, length - got, off_t(position.last.offset + got)) }
            if result < 0 {
                if errno == EINTR { continue }
                throw StorageError.io("cannot read", file: path, errno: errno, offset: position.last.offset + got)
            }
            if result == 0 { break }
            got += result
        }
        guard got == length else {
            throw JournalPositionMismatch("\(path) ends at byte \(position.last.offset + got), before the checkpoint's position (\(position.tailOffset)): the journal is shorter than the checkpoint")
        }
        let parsed = bytes.withUnsafeBufferPointer { RecordCodec.parse($0, at: 0) }
        guard case .record(_, let hash, let end) = parsed, end == length else {
            throw JournalPositionMismatch("\(path) holds no record at offset \(position.last.offset) ending at \(position.tailOffset), where the checkpoint's last record is")
        }
        guard hash == expected else {
            throw JournalPositionMismatch("the record at \(path) offset \(position.last.offset) has hash \(hash.hex.prefix(16)), not the checkpoint's head \(position.headHashHex.prefix(16)): the journal's history differs from the checkpoint's")
        }
        return (JournalScanner.Start(offset: position.tailOffset, previous: hash, records: position.records), Array(all[first...]))
    }

    private static func recover(
        directory: String, directoryFD: Int32, io: FileIO, from position: JournalPosition?,
        replay: ([UInt8], RecordLocation) throws -> Void
    ) throws -> Recovered {
        var start: JournalScanner.Start?
        let scanner: JournalScanner
        if let position {
            let anchor = try checkAnchor(directory: directory, position)
            start = anchor.start
            scanner = JournalScanner(segments: anchor.segments)
        } else {
            scanner = try JournalScanner(directory: directory)
        }
        let segments = scanner.segments
        var head = start?.previous ?? Digest.zero
        var count = start?.records ?? 0
        var last: (location: RecordLocation, end: Int)? = position.map { ($0.last, $0.tailOffset) }
        var report = RecoveryReport(
            records: 0, truncatedFile: nil, truncatedAtOffset: nil, truncatedBytes: 0, reason: nil,
            headHashHex: Digest.zero.hex)

        // Recovery's reading of a fault: with nothing after it, a torn tail to cut; otherwise the
        // journal is refused as it is.
        var cut: (segment: Int, offset: Int, size: Int, reason: String)?
        try scanner.walk(from: start) { event in
            switch event {
            case .record(let record):
                try replay(Array(record.payload), record.location)
                head = record.hash
                count += 1
                last = (record.location, record.end)
                return .proceed
            case .segmentEnd:
                return .proceed
            case .fault(let fault, let segment):
                guard let segment else { throw fault.error(.refused) }
                switch fault.kind {
                case .malformedRecord, .hashMismatch:
                    if segment.dataFollows(fault.offset) { throw fault.error(.refusedNotATornTail) }
                    cut = (segment.position, fault.offset, segment.fileSize, fault.reason)
                    return .stop
                case .misnamedSegment, .unreadable, .noSegments:
                    throw fault.error(.refused)
                }
            }
        }

        var current = segments.last.map { ($0.path, $0.index) }
        if let cut {
            // A torn tail: cut it off (and drop any empty segments after it).
            let segment = segments[cut.segment]
            let fd = Posix.openForWriting(segment.path)
            guard fd >= 0 else { throw StorageError.io("cannot open to truncate", file: segment.path, errno: errno) }
            defer { Posix.close(fd) }
            var code = io.truncate(fd, cut.offset)
            if code == 0 { code = io.sync(fd) }
            if code != 0 {
                throw StorageError.io("cannot truncate torn tail", file: segment.path, errno: code, offset: cut.offset)
            }
            let later = segments[(cut.segment + 1)...]
            for empty in later where !Posix.remove(empty.path) {
                throw StorageError.io("cannot remove empty segment", file: empty.path, errno: errno)
            }
            if !later.isEmpty {
                let code = io.syncDirectory(directoryFD)
                if code != 0 { throw StorageError.io("cannot sync directory", file: directory, errno: code) }
            }
            current = (segment.path, segment.index)
            report.truncatedFile = segment.path
            report.truncatedAtOffset = cut.offset
            report.truncatedBytes = cut.size - cut.offset
            report.reason = cut.reason
        }
        if current == nil {
            let path = Segment.path(directory: directory, index: 1)
            let fd = Posix.openForAppend(path)
            guard fd >= 0 else { throw StorageError.io("cannot create segment", file: path, errno: errno) }
            Posix.close(fd)
            let code = io.syncDirectory(directoryFD)
            if code != 0 { throw StorageError.io("cannot sync directory", file: directory, errno: code) }
            current = (path, 1)
        }
        report.records = count
        report.headHashHex = head.hex
        return Recovered(report: report, head: head, segmentPath: current!.0, segmentIndex: current!.1, last: last)
    }
}
