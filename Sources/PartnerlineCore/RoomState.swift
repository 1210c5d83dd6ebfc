import PartnerlineProtocol

/// One topic room: its stored history and its members. History keeps each event's encoded EV line,
/// so HISTORY replies and live fan-out send identical bytes without encoding again.
public struct RoomState: Sendable {
    public let name: RoomName
    public var topic: String
    /// Accounts that joined and have not parted (JOIN/PART are presence records, not events).
    public private(set) var members: Set<String> = []
    /// Encoded EV lines; the line of seq n is at index n-1 (seq starts at 1 with no gaps).
    private var lines: [[UInt8]] = []
    public private(set) var lastTimeMillis: Int64 = 0

    public init(name: RoomName, topic: String) {
        self.name = name
        self.topic = topic
    }

    public var lastSeq: UInt64 { UInt64(lines.count) }

    /// Appends a stored event; events must arrive in seq order without gaps.
    public mutating func append(_ event: StoredEvent) throws {
        guard event.seq == lastSeq + 1 else {
            throw ReplayError("room \(name): event seq \(event.seq) after \(lastSeq)")
        }
        lines.append(event.encodedLine())
        lastTimeMillis = max(lastTimeMillis, event.timeMillis)
    }

    /// Appends an event whose line is already encoded (the live path encodes once for fan-out).
    public mutating func append(seq: UInt64, timeMillis: Int64, line: [UInt8]) {
        precondition(seq == lastSeq + 1, "room \(name): seq \(seq) after \(lastSeq)")
        lines.append(line)
        lastTimeMillis = max(lastTimeMillis, timeMillis)
    }

    public mutating func addMember(_ account: String) { members.insert(account) }
    public mutating func removeMember(_ account: String) { members.remove(account) }

    /// The stored lines HISTORY returns, oldest first.
    /// - With `after`, the first `limit` events whose seq is greater than `after` (and below `before`, if given).
    /// - Otherwise the last `limit` events below `before` (or the newest `limit` events).
    public func history(after: UInt64?, before: UInt64?, limit: Int) -> ArraySlice<[UInt8]> {
        let upper = min(before.map { $0 > 0 ? $0 - 1 : 0 } ?? lastSeq, lastSeq)  // highest seq included
        let lower = (after ?? 0) + 1                                              // lowest seq included
        guard limit > 0, upper >= lower else { return [] }
        let count = Int(upper - lower + 1)
        let take = min(count, limit)
        let firstSeq = after != nil ? lower : upper - UInt64(take) + 1
        let start = Int(firstSeq - 1)
        return lines[start..<(start + take)]
    }
}
