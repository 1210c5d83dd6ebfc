import PartnerlineProtocol

/// One topic room: its members and a bounded window of its newest events. The window keeps each
/// event's encoded EV line, so HISTORY replies and live fan-out send identical bytes without
/// encoding again; older events stay in the journal only (the server reads them from there), so
/// memory does not grow with the length of a room's history.
public struct RoomState: Sendable {
    /// Events per room kept in memory unless configured otherwise: four pages of HISTORY's default
    /// 50, about 50 KiB a room with 100-byte messages (an EV line and its allocation take ~240
    /// bytes). Older events are read from the journal.
    public static let defaultHistoryWindow = 200

    public let name: RoomName
    public var topic: String
    /// Accounts that joined and have not parted (JOIN/PART are presence records, not events).
    public internal(set) var members: Set<String> = []
    /// At least the newest `historyWindow` events, and a bounded slack more (see `advance`):
    /// the line of seq `windowFirstSeq + i` is at index i, and after `lines` come `deferred`.
    var lines: [[UInt8]] = []
    /// Replayed events whose lines are not encoded yet (the window's newest ones): a replay of a long
    /// room would otherwise encode every event's line only to drop all but the last window of them.
    /// Encoded by `encodeDeferredLines()` (after replay) or by the next live append.
    var deferred: [StoredEvent] = []
    /// Seq of `lines[0]` (seq starts at 1 and has no gaps).
    public internal(set) var windowFirstSeq: UInt64 = 1
    public internal(set) var lastSeq: UInt64 = 0
    public internal(set) var lastTimeMillis: Int64 = 0
    public let historyWindow: Int
    /// Events held beyond the window before the oldest are dropped: an eighth of the window. A
    /// trim moves the window's entries down once per `trimSlack` appends (about eight moves per
    /// event: line references live, `StoredEvent`s of ~110 bytes in replay, some 80 ns an event);
    /// a slack of the whole window held up to twice the memory.
    public var trimSlack: Int { max(1, historyWindow / 8) }

    public init(name: RoomName, topic: String, historyWindow: Int = RoomState.defaultHistoryWindow) {
        self.name = name
        self.topic = topic
        self.historyWindow = max(1, historyWindow)
    }

    /// Events held in memory now (never more than `historyWindow + trimSlack`).
    public var linesInMemory: Int { lines.count + deferred.count }

    /// Appends a replayed event; events must arrive in seq order without gaps. Its line is encoded
    /// only if it is still in the window when `encodeDeferredLines()` or a live append comes.
    public mutating func append(_ event: StoredEvent) throws {
        guard event.seq == lastSeq + 1 else {
            throw ReplayError("room \(name): event seq \(event.seq) after \(lastSeq)")
        }
        deferred.append(event)
        advance(seq: event.seq, timeMillis: event.timeMillis)
    }

    /// Appends an event whose line is already encoded (the live path encodes once for fan-out).
    public mutating func append(seq: UInt64, timeMillis: Int64, line: [UInt8]) {
        precondition(seq == lastSeq + 1, "room \(name): seq \(seq) after \(lastSeq)")
        encodeDeferredLines()
        lines.append(line)
        advance(seq: seq, timeMillis: timeMillis)
    }

    /// Encodes the lines of replayed events still in the window (call once replay is done, so the
    /// first HISTORY or live post does not pay for it).
    public mutating func encodeDeferredLines() {
        guard !deferred.isEmpty else { return }
        lines.reserveCapacity(lines.count + deferred.count)
        for event in deferred { lines.append(event.encodedLine()) }
        deferred.removeAll()
    }

    private mutating func advance(seq: UInt64, timeMillis: Int64) {
        lastSeq = seq
        lastTimeMillis = max(lastTimeMillis, timeMillis)
        // The same rule for replayed and live events, so what a room holds depends only on its
        // last seq: a checkpoint taken from the live state equals a full replay's (verify).
        let held = lines.count + deferred.count
        if held > historyWindow + trimSlack {
            var drop = held - historyWindow
            let fromLines = min(drop, lines.count)
            lines.removeFirst(fromLines)
            drop -= fromLines
            deferred.removeFirst(drop)
            windowFirstSeq = lastSeq - UInt64(historyWindow) + 1
        }
    }

    public mutating func addMember(_ account: String) { members.insert(account) }
    public mutating func removeMember(_ account: String) { members.remove(account) }

    /// Read markers (MARK): the highest seq each account has said it read here. Kept after a PART,
    /// so an account that comes back finds its place again.
    public internal(set) var readMarkers: [String: UInt64] = [:]

    /// The account's read marker, 0 if it never set one.
    public func readMarker(of account: String) -> UInt64 { readMarkers[account] ?? 0 }

    /// Moves a read marker forward; a lower or equal seq changes nothing. Returns whether it moved.
    @discardableResult
    public mutating func markRead(_ account: String, seq: UInt64) -> Bool {
        guard seq > readMarker(of: account) else { return false }
        readMarkers[account] = seq
        return true
    }

    /// One page of HISTORY: the seqs it returns (nil when none) and whether the bounds asked for
    /// hold further stored events beyond it in the direction read (`more=` on `OK HISTORY`).
    public struct HistoryPage: Sendable, Equatable {
        public var range: ClosedRange<UInt64>?
        public var more: Bool

        public init(range: ClosedRange<UInt64>?, more: Bool) {
            self.range = range
            self.more = more
        }
    }

    /// The page HISTORY returns (lines always oldest first).
    /// - With `after`, it reads forwards: the first `limit` events whose seq is greater than `after`
    ///   (and below `before`, if given); `more` when events between the page and `before` (or the
    ///   newest) remain, and the next page is `after=<the page's highest seq>`.
    /// - Otherwise it reads backwards: the last `limit` events below `before` (or the newest `limit`
    ///   events); `more` when older events remain, and the next page is `before=<the page's lowest seq>`.
    public func historyPage(after: UInt64?, before: UInt64?, limit: Int) -> HistoryPage {
        let upper = min(before.map { $0 > 0 ? $0 - 1 : 0 } ?? lastSeq, lastSeq)  // highest seq included
        let lower = (after ?? 0) + 1                                              // lowest seq included
        guard limit > 0, upper >= lower else { return HistoryPage(range: nil, more: false) }
        let take = UInt64(min(upper - lower + 1, UInt64(limit)))
        if after != nil {
            let range = lower...(lower + take - 1)
            return HistoryPage(range: range, more: range.upperBound < upper)
        }
        let range = (upper - take + 1)...upper
        return HistoryPage(range: range, more: range.lowerBound > lower)
    }

    /// The seqs HISTORY returns, or nil when there are none (see `historyPage`).
    public func historyRange(after: UInt64?, before: UInt64?, limit: Int) -> ClosedRange<UInt64>? {
        historyPage(after: after, before: before, limit: limit).range
    }

    /// The lines of `range` from memory, or nil when it reaches back before the window (the caller
    /// reads those from the journal).
    public func lines(in range: ClosedRange<UInt64>) -> [[UInt8]]? {
        guard range.lowerBound >= windowFirstSeq, range.upperBound <= lastSeq else { return nil }
        let start = Int(range.lowerBound - windowFirstSeq)
        let end = start + range.count
        if end <= lines.count { return Array(lines[start..<end]) }
        // Reaches into events not yet encoded (before `encodeDeferredLines()`): encode those here.
        var result = Array(lines[min(start, lines.count)...])
        for event in deferred[max(0, start - lines.count)..<(end - lines.count)] { result.append(event.encodedLine()) }
        return result
    }
}
