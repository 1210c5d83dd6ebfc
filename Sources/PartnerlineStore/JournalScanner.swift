/// One bad spot found while walking a journal: the file, the byte offset where the bad record (or
/// segment) starts, and why. Every text a journal fault is reported with comes from here, so
/// recovery, `verify` and `backup` name the same damage in the same words.
public struct JournalFault: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The directory or a segment file cannot be listed or read (the reason carries the errno text).
        case unreadable
        /// The directory holds no segment files.
        case noSegments
        /// A segment's name does not follow from the records before it: one is missing, misnamed or out of place.
        case misnamedSegment
        /// The bytes at `offset` are not a well-formed record (torn write, damaged length, hex or newline).
        case malformedRecord
        /// A well-formed record whose hash is not SHA-256 of the previous hash and its payload.
        case hashMismatch
    }

    public var kind: Kind
    /// Full path of the segment (or of the directory, for `unreadable` listing and `noSegments`).
    public var file: String
    /// Start of the bad record in `file` (0 for a whole-file fault).
    public var offset: Int
    /// Why, in words (no file or offset: a report puts those in front).
    public var reason: String

    public init(kind: Kind, file: String, offset: Int, reason: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.reason = reason
    }

    /// `<file> offset <n>: <reason>`.
    public var description: String { "\(file) offset \(offset): \(reason)" }

    static func unreadable(_ error: StorageError, file: String) -> JournalFault {
        JournalFault(kind: .unreadable, file: file, offset: 0, reason: error.description)
    }

    static func noSegments(in directory: String) -> JournalFault {
        JournalFault(kind: .noSegments, file: directory, offset: 0, reason: "no segment files (*.journal) in \(directory)")
    }

    static func misnamed(_ segment: Segment, follows records: Int) -> JournalFault {
        JournalFault(
            kind: .misnamedSegment, file: segment.path, offset: 0,
            reason: "segment is named for record #\(segment.index) but follows \(records) records "
                + "(a segment is missing, misnamed or out of place)")
    }

    static func malformed(_ file: String, at offset: Int, _ reason: String) -> JournalFault {
        JournalFault(kind: .malformedRecord, file: file, offset: offset, reason: reason)
    }

    static func hashMismatch(_ file: String, at offset: Int) -> JournalFault {
        JournalFault(
            kind: .hashMismatch, file: file, offset: offset,
            reason: "hash mismatch (not SHA-256 of the previous hash and this payload)")
    }

    /// What the caller does about the fault, said after it.
    enum Consequence {
        /// Recovery: data follows the bad record, so it cannot be a torn tail; the journal is refused.
        case refusedNotATornTail
        /// Recovery: the segments do not line up; the journal is refused.
        case refused
        /// Backup: a bad record in a segment that is already sealed; the copy fails.
        case backupSealedSegment
        /// Backup: the segments cannot be read or do not line up; the copy fails.
        case backupStopped

        var text: String {
            switch self {
            case .refusedNotATornTail: "valid records follow it, so it is not a torn tail (nothing was changed)"
            case .refused: "nothing was changed"
            case .backupSealedSegment: "bad record in a sealed segment, so the copy stops; run verify"
            case .backupStopped: "the copy stops; run verify"
            }
        }
    }

    /// The error a caller throws for this fault: `.io` for an unreadable file, `.corrupt` otherwise.
    func error(_ consequence: Consequence) -> StorageError {
        if kind == .unreadable { return StorageError(kind: .io, file: file, offset: nil, description: reason) }
        return StorageError(
            kind: .corrupt, file: file, offset: offset,
            description: "corrupt journal: \(self); \(consequence.text)")
    }
}

/// The one walk over a journal's segments, shared by recovery (`Journal.open`), `verify` and `backup`.
///
/// It reads each segment in order (whole, as recovery always has), parses every record (length
/// field, hash hex, newline), checks the hash chain across segments and each segment's name against
/// the records before it, and hands the visitor every good record and every fault, with its file
/// and byte offset. It never writes and never decides what a fault means: the visitor does, and
/// says whether to go on. Recovery stops at the first fault and cuts it if it is a torn tail,
/// `verify` reports every fault and goes on, `backup` stops (and fails if the segment is sealed).
///
/// After a fault, if the visitor goes on: a hash mismatch consumes its record and the chain goes
/// on from its stored hash (one flipped payload byte is one fault); an unparseable record resumes
/// at the next line, and the record after it cannot be chain-checked (it is reported as a record,
/// with `chainChecked` false). A segment's name is checked only while no fault has been seen,
/// since after one the record count is no longer known.
struct JournalScanner {
    enum Next { case proceed, stop }

    /// A record whose hash chains from the one before it. `payload` is valid only during the visit.
    struct Record {
        var location: RecordLocation
        var payload: UnsafeBufferPointer<UInt8>
        var hash: Digest
        /// Offset just past its newline (where the next record starts).
        var end: Int
        /// False only for a record right after an unparseable one (nothing to chain it from).
        var chainChecked: Bool
    }

    /// The segment being walked, as the visitor sees it with a fault or at the segment's end.
    /// `bytes` is valid only during the visit.
    struct SegmentView {
        var segment: Segment
        /// Position in the directory's segment list.
        var position: Int
        /// The bytes read, from file offset `base` to the end of the file (`base` is 0 unless the
        /// walk started part-way into this segment, from a checkpoint).
        var bytes: UnsafeBufferPointer<UInt8>
        var base = 0
        /// The segments after this one (when empty, this is the live segment a writer appends to).
        var later: ArraySlice<Segment>

        var isLast: Bool { later.isEmpty }

        /// The segment file's length as read.
        var fileSize: Int { base + bytes.count }

        /// Whether anything follows a bad record at `offset`: a well-formed record later in this
        /// segment, or a later segment that is not empty. A bad record with nothing after it is a
        /// torn tail (a write cut short by a crash); one with data after it is corruption.
        func dataFollows(_ offset: Int) -> Bool {
            RecordCodec.wellFormedRecordFollows(bytes, after: offset - base)
                || later.contains { (Posix.size(ofPath: $0.path) ?? 1) > 0 }
        }
    }

    enum Event {
        case record(Record)
        /// `segment` is nil when the segment file could not be read at all.
        case fault(JournalFault, segment: SegmentView?)
        /// Every byte of the segment has been walked (sent only if the visitor did not stop).
        case segmentEnd(SegmentView)
    }

    let segments: [Segment]

    init(segments: [Segment]) {
        self.segments = segments
    }

    /// The segments of `directory`, in order (throws if the directory cannot be listed).
    init(directory: String) throws(StorageError) {
        self.init(segments: try Segment.list(directory: directory))
    }

    /// Where a walk starts when it does not start at the first record: in the first segment of
    /// `segments`, at `offset` (just past a record a checkpoint covers), chaining from `previous`
    /// with `records` records before it. The record before it is the caller's to check.
    struct Start {
        var offset: Int
        var previous: Digest
        var records: Int
    }

    func walk<Failure: Error>(from start: Start? = nil, _ visit: (Event) throws(Failure) -> Next) throws(Failure) {
        let hasher = ChainHasher()
        /// The hash the next record must chain from; nil right after an unparseable record.
        var previous: Digest? = start?.previous ?? Digest.zero
        /// Well-formed records so far, chained or not: what the next segment's name must follow.
        var seen = start?.records ?? 0
        var faulted = false
        for (position, segment) in segments.enumerated() {
            let later = segments[(position + 1)...]
            let bytes: [UInt8]
            let base = position == 0 ? start?.offset ?? 0 : 0
            do {
                bytes = try Posix.readFile(segment.path, from: base)
            } catch {
                faulted = true
                previous = nil
                if try visit(.fault(.unreadable(error, file: segment.path), segment: nil)) == .stop { return }
                continue
            }
            let stopped: Bool = try bytes.withUnsafeBufferPointer { buffer throws(Failure) in
                let view = SegmentView(segment: segment, position: position, bytes: buffer, base: base, later: later)
                if !faulted, !(position == 0 && start != nil), segment.index != seen + 1 {
                    faulted = true
                    if try visit(.fault(.misnamed(segment, follows: seen), segment: view)) == .stop { return true }
                }
                var offset = 0
                while offset < buffer.count {
                    switch RecordCodec.parse(buffer, at: offset) {
                    case .record(let range, let hash, let end):
                        seen += 1
                        let payload = UnsafeBufferPointer(rebasing: buffer[range])
                        let expected = previous
                        previous = hash
                        if let expected, hasher.chain(expected, UnsafeRawBufferPointer(payload)) != hash {
                            faulted = true
                            if try visit(.fault(.hashMismatch(segment.path, at: base + offset), segment: view)) == .stop { return true }
                        } else {
                            let record = Record(
                                location: RecordLocation(segment: segment.index, offset: base + offset), payload: payload,
                                hash: hash, end: base + end, chainChecked: expected != nil)
                            if try visit(.record(record)) == .stop { return true }
                        }
                        offset = end
                    case .bad(let reason):
                        faulted = true
                        previous = nil
                        if try visit(.fault(.malformed(segment.path, at: base + offset, reason), segment: view)) == .stop { return true }
                        offset = RecordCodec.nextLineStart(buffer, after: offset)
                    }
                }
                return try visit(.segmentEnd(view)) == .stop
            }
            if stopped { return }
        }
    }
}
