/// A room whose newest stored seq on the server is lower than the last seq this client saw in
/// it: the server's data dir was restored from an older backup (or the room was recreated).
/// Events up to `serverLast` may differ from those seen before; the tracker goes on from
/// `serverLast` and reports it instead of skipping silently.
public struct RoomReset: Sendable, Hashable {
    public var room: String
    /// The last seq this client delivered before.
    public var keptSeq: UInt64
    /// The room's newest seq on the server now (from `* JOINED` or `OK JOIN`).
    public var serverLast: UInt64

    public init(room: String, keptSeq: UInt64, serverLast: UInt64) {
        self.room = room
        self.keptSeq = keptSeq
        self.serverLast = serverLast
    }
}

/// Delivers each room's events exactly once and in order across reconnects (wire contract 1.1,
/// "Resume on LOGIN"). Pure: it is told what the server said and answers with what to deliver
/// and which HISTORY pages to fetch; `PartnerlineSession` does the I/O.
///
/// - It keeps, per room, the last seq delivered (`cursors`; a program may save and restore them).
/// - After LOGIN, each `* JOINED <room> last=<n>` line is compared with the cursor: `n` above it
///   means events were missed, fetched with `HISTORY <room> after=<cursor> before=<n+1>` page by
///   page (`more=yes` asks for the next page, after the last seq returned); `n` below it is a
///   `RoomReset`; a room without a cursor starts at `n` (its history is there to read).
/// - Live events of a room being caught up are held, and delivered after the pages, skipping
///   the seqs the pages already delivered. A live event at or below the cursor is a duplicate
///   and dropped. In a member room, a live event beyond `cursor + 1` means a gap, filled the
///   same way before it is delivered.
/// - Events of rooms it does not track as joined (WATCH deliveries from other rooms) are
///   delivered once each (by seq), without gap filling: they are a filtered stream by design.
public struct ResumeTracker: Sendable {
    /// One `HISTORY <room> after=<after> before=<before>` page to fetch.
    public struct Fetch: Sendable, Hashable {
        public var room: String
        public var after: UInt64
        public var before: UInt64

        public init(room: String, after: UInt64, before: UInt64) {
            self.room = room
            self.after = after
            self.before = before
        }
    }

    public enum Output: Sendable, Hashable {
        case event(Event)
        case reset(RoomReset)
    }

    /// What to do after one input: deliver `outputs` in order, then fetch `fetches`.
    public struct Step: Sendable, Hashable {
        public var outputs: [Output] = []
        public var fetches: [Fetch] = []

        public init(outputs: [Output] = [], fetches: [Fetch] = []) {
            self.outputs = outputs
            self.fetches = fetches
        }
    }

    private struct CatchUp: Sendable {
        /// Deliver everything up to this seq from HISTORY.
        var through: UInt64
        /// Live events that arrived meanwhile.
        var held: [Event] = []
        /// A gap before held events was already fetched once (so a server that has no such
        /// events cannot loop us).
        var gapRetried = false
    }

    /// The last seq delivered per room.
    public private(set) var cursors: [String: UInt64]
    /// Rooms the account is a member of on this connection.
    public private(set) var joinedRooms: Set<String> = []
    private var catchingUp: [String: CatchUp] = [:]

    public init(cursors: [String: UInt64] = [:]) {
        self.cursors = cursors
    }

    /// True while a room's missed events are being fetched.
    public func isCatchingUp(_ room: String) -> Bool { catchingUp[room] != nil }

    /// After a successful LOGIN (or, against a 1.0 server, after re-JOINing): one entry per room
    /// the connection is attached to, with the room's newest seq.
    public mutating func attached(_ rooms: [(room: String, last: UInt64)]) -> Step {
        catchingUp.removeAll()
        joinedRooms.removeAll()
        var step = Step()
        for (room, last) in rooms {
            joinedRooms.insert(room)
            guard let kept = cursors[room] else {
                cursors[room] = last
                continue
            }
            if last < kept {
                step.outputs.append(.reset(RoomReset(room: room, keptSeq: kept, serverLast: last)))
                cursors[room] = last
            } else if last > kept {
                catchingUp[room] = CatchUp(through: last)
                step.fetches.append(Fetch(room: room, after: kept, before: last + 1))
            }
        }
        return step
    }

    /// The `* JOINED` lines of a LOGIN reply.
    public mutating func attached(joinedLines: [DataLine]) -> Step {
        attached(joinedLines.compactMap { line in
            guard line.word == "JOINED", let room = line.arguments.first else { return nil }
            return (room, line.number("last") ?? 0)
        })
    }

    /// `OK JOIN room=<room> last=<n>` during a session: the room's events are live from here.
    public mutating func joined(room: String, last: UInt64) -> Step {
        joinedRooms.insert(room)
        guard let kept = cursors[room] else {
            cursors[room] = last
            return Step()
        }
        if last < kept {
            cursors[room] = last
            return Step(outputs: [.reset(RoomReset(room: room, keptSeq: kept, serverLast: last))])
        }
        if last > kept && catchingUp[room] == nil {
            catchingUp[room] = CatchUp(through: last)
            return Step(fetches: [Fetch(room: room, after: kept, before: last + 1)])
        }
        return Step()
    }

    /// `OK PART`: no longer a member; the cursor is kept (a later JOIN resumes from it).
    public mutating func parted(room: String) {
        joinedRooms.remove(room)
        catchingUp[room] = nil
    }

    /// A live (untagged) EV line.
    public mutating func live(_ event: Event) -> Step {
        let room = event.room
        if catchingUp[room] != nil {
            catchingUp[room]!.held.append(event)
            return Step()
        }
        guard let cursor = cursors[room] else {
            cursors[room] = event.seq
            return Step(outputs: [.event(event)])
        }
        if event.seq <= cursor { return Step() }   // already delivered
        if event.seq > cursor + 1 && joinedRooms.contains(room) {
            catchingUp[room] = CatchUp(through: event.seq - 1, held: [event])
            return Step(fetches: [Fetch(room: room, after: cursor, before: event.seq)])
        }
        cursors[room] = event.seq
        return Step(outputs: [.event(event)])
    }

    /// One HISTORY page for `fetch`: its EV lines and the OK's `more=` (nil from a server before
    /// 1.1: then a full page means there may be more).
    public mutating func page(_ fetch: Fetch, events: [Event], more: Bool) -> Step {
        let room = fetch.room
        guard var catchUp = catchingUp[room] else { return Step() }   // stale (reconnected since)
        var step = Step()
        var progressed = false
        for event in events.sorted(by: { $0.seq < $1.seq }) where event.room == room {
            let cursor = cursors[room] ?? 0
            guard event.seq > cursor, event.seq <= catchUp.through else { continue }
            cursors[room] = event.seq
            step.outputs.append(.event(event))
            progressed = true
        }
        let cursor = cursors[room] ?? 0
        if more && progressed && cursor < catchUp.through {
            catchingUp[room] = catchUp
            step.fetches.append(Fetch(room: room, after: cursor, before: catchUp.through + 1))
            return step
        }
        // This range is done. Held live events go out now, unless a gap lies before them.
        catchUp.held.sort { $0.seq < $1.seq }
        catchUp.held.removeAll { $0.seq <= cursor }
        if let first = catchUp.held.first, first.seq > cursor + 1, !catchUp.gapRetried {
            catchUp.gapRetried = true
            catchUp.through = first.seq - 1
            catchingUp[room] = catchUp
            step.fetches.append(Fetch(room: room, after: cursor, before: first.seq))
            return step
        }
        catchingUp[room] = nil
        for event in catchUp.held where event.seq > (cursors[room] ?? 0) {
            cursors[room] = event.seq
            step.outputs.append(.event(event))
        }
        return step
    }

    /// A page could not be fetched (an ERR, e.g. the membership ended meanwhile): deliver what was
    /// held and go on live, rather than hold the room forever.
    public mutating func pageFailed(_ fetch: Fetch) -> Step {
        guard catchingUp[fetch.room] != nil else { return Step() }
        catchingUp[fetch.room]!.gapRetried = true
        return page(fetch, events: [], more: false)
    }

    /// The connection ended: pages in flight and held events are dropped (cursors did not move
    /// past them, so the next LOGIN fetches them again).
    public mutating func disconnected() {
        catchingUp.removeAll()
        joinedRooms.removeAll()
    }
}
