/// A window: the server window or one room. Holds a capped scrollback kept in seq order, with
/// each stored event at most once (a `/history` page, or a room parted and joined again, may
/// bring an event the window already has; it is dropped here, so the screen never shows a repeat).
public struct ChatWindow: Sendable, Equatable {
    public static let serverName = "server"

    /// The room, or `server`.
    public let name: String
    public var topic: String = ""
    public private(set) var lines: [ChatLine] = []
    /// Oldest lines go first once the window holds more than this.
    public var scrollbackLimit: Int
    /// The highest seq this window knows exists in the room (from events, JOIN or `* JOINED`).
    public var lastSeq: UInt64 = 0
    /// The highest seq of an event actually held.
    public private(set) var heldSeq: UInt64 = 0
    /// The account's read marker in this room (from `* JOINED`, `READ`, or our own MARK).
    public var readSeq: UInt64 = 0
    /// Lines not from stored events that arrived while the window was not shown.
    public var unseenLocal = 0
    public var highlighted = false
    /// Rows scrolled up from the bottom (0: following new lines).
    public var scrollRows = 0
    /// A /find hit: the composer scrolls so this line is the lowest shown.
    public var scrollToLine: Int?
    private var seqs: Set<UInt64> = []
    /// The highest seq the cap has dropped.
    private var trimmedThrough: UInt64 = 0

    public init(name: String, scrollbackLimit: Int) {
        self.name = name
        self.scrollbackLimit = max(10, scrollbackLimit)
    }

    public var isServer: Bool { name == Self.serverName }

    /// Unread events: seqs are gap-free in a room, so this is the distance from the read
    /// marker to the newest seq, the same number on every device that shares the marker.
    public var unread: Int { Int(clamping: lastSeq > readSeq ? lastSeq - readSeq : 0) }

    /// Adds a line in seq order; returns false for an event already held.
    @discardableResult
    public mutating func add(_ line: ChatLine) -> Bool {
        guard let seq = line.seq else {
            lines.append(line)
            trim()
            return true
        }
        // Held, or older than what the cap let go: either way the screen has shown it.
        guard !seqs.contains(seq), seq > trimmedThrough else { return false }
        seqs.insert(seq)
        lastSeq = max(lastSeq, seq)
        if seq > heldSeq {
            heldSeq = seq
            lines.append(line)
        } else {
            // An older event (a history page, a catch-up racing a live line): before the first
            // held event with a higher seq.
            var index = lines.count
            while index > 0 {
                if let s = lines[index - 1].seq, s < seq { break }
                index -= 1
            }
            lines.insert(line, at: index)
        }
        trim()
        return true
    }

    private mutating func trim() {
        guard lines.count > scrollbackLimit else { return }
        let drop = lines.count - scrollbackLimit
        for line in lines[0..<drop] {
            if let seq = line.seq {
                seqs.remove(seq)
                trimmedThrough = max(trimmedThrough, seq)
            }
        }
        lines.removeFirst(drop)
    }

    /// True when an event with this seq is held (for tests and catch-up checks).
    public func holds(seq: UInt64) -> Bool { seqs.contains(seq) }
}
