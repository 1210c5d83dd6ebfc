import PartnerlineProtocol

/// One topic room: its members and a bounded window of its newest events. The window keeps each
/// event's encoded EV line, so HISTORY replies and live fan-out send identical bytes without
/// encoding again; older events stay in the journal only (the server reads them from there), so
/// memory does not grow with the length of a room's history.
public struct RoomState: Sendable {
    /// Events per room kept in memory unless configured otherwise.
    public static let defaultHistoryWindow = 1000

    public let name: RoomName
    public var topic: String
    /// Accounts that joined and have not parted (JOIN/PART are presence records, not events).
    public private(set) var members: Set<String> = []
    /// At least the newest `historyWindow` events (at most twice that, so trimming is amortised):
    /// the line of seq `windowFirstSeq + i` is at index i.
    private var lines: [[UInt8]] = []
    /// Seq of `lines[0]` (seq starts at 1 and has no gaps).
    public private(set) var windowFirstSeq: UInt64 = 1
    public private(set) var lastSeq: UInt64 = 0
    public private(set) var lastTimeMillis: Int64 = 0
    public let historyWindow: Int

    public init(name: RoomName, topic: String, historyWindow: Int = RoomState.defaultHistoryWindow) {
        self.name = name
        self.topic = topic
        self.historyWindow = max(1, historyWindow)
    }

    /// Event lines held in memory now (never more than twice the window).
    public var linesInMemory: Int { lines.count }

    /// Appends a stored event; events must arrive in seq order without gaps.
    public mutating func append(_ event: StoredEvent) throws {
        guard event.seq == lastSeq + 1 else {
            throw ReplayError("room \(name): event seq \(event.seq) after \(lastSeq)")
        }
        keep(seq: event.seq, timeMillis: event.timeMillis, line: event.encodedLine())
    }

    /// Appends an event whose line is already encoded (the live path encodes once for fan-out).
    public mutating func append(seq: UInt64, timeMillis: Int64, line: [UInt8]) {
        precondition(seq == lastSeq + 1, "room \(name): seq \(seq) after \(lastSeq)")
        keep(seq: seq, timeMillis: timeMillis, line: line)
    }

    private mutating func keep(seq: UInt64, timeMillis: Int64, line: [UInt8]) {
        lines.append(line)
        lastSeq = seq
        lastTimeMillis = max(lastTimeMillis, timeMillis)
        if lines.count >= 2 * historyWindow {
            lines.removeFirst(lines.count - historyWindow)
            windowFirstSeq = lastSeq - UInt64(historyWindow) + 1
        }
    }

    public mutating func addMember(_ account: String) { members.insert(account) }
    public mutating func removeMember(_ account: String) { members.remove(account) }

    /// The seqs HISTORY returns, or nil when there are none.
    /// - With `after`, the first `limit` events whose seq is greater than `after` (and below `before`, if given).
    /// - Otherwise the last `limit` events below `before` (or the newest `limit` events).
    public func historyRange(after: UInt64?, before: UInt64?, limit: Int) -> ClosedRange<UInt64>? {
        let upper = min(before.map { $0 > 0 ? $0 - 1 : 0 } ?? lastSeq, lastSeq)  // highest seq included
        let lower = (after ?? 0) + 1                                              // lowest seq included
        guard limit > 0, upper >= lower else { return nil }
        let take = UInt64(min(upper - lower + 1, UInt64(limit)))
        let firstSeq = after != nil ? lower : upper - take + 1
        return firstSeq...(firstSeq + take - 1)
    }

    /// The lines of `range` from memory, or nil when it reaches back before the window (the caller
    /// reads those from the journal).
    public func lines(in range: ClosedRange<UInt64>) -> ArraySlice<[UInt8]>? {
        guard range.lowerBound >= windowFirstSeq, range.upperBound <= lastSeq else { return nil }
        let start = Int(range.lowerBound - windowFirstSeq)
        return lines[start..<(start + range.count)]
    }
}
