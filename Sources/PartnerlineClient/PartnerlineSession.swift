import Foundation

/// Reconnect delays: exponential from `initialSeconds`, capped at `maximumSeconds`, with "equal
/// jitter" (half the delay fixed, half random) so clients dropped together by a server restart
/// do not all come back in the same instant.
public struct Backoff: Sendable, Hashable {
    public var initialSeconds: Double
    public var maximumSeconds: Double
    public var multiplier: Double

    public init(initialSeconds: Double = 0.25, maximumSeconds: Double = 30, multiplier: Double = 2) {
        self.initialSeconds = initialSeconds
        self.maximumSeconds = maximumSeconds
        self.multiplier = multiplier
    }

    /// The delay before attempt `attempt` (1 = the first retry); `random` is in 0..<1.
    public func delaySeconds(attempt: Int, random: Double) -> Double {
        let exponent = Double(max(0, min(attempt - 1, 62)))
        let base = min(maximumSeconds, initialSeconds * pow(multiplier, exponent))
        return base / 2 + base / 2 * min(max(random, 0), 1)
    }
}

/// What a `PartnerlineSession` is doing, for a UI to show.
public enum SessionState: Sendable, Hashable {
    /// Dialling (attempt 0 is the first connection).
    case connecting(attempt: Int)
    /// Connected and logged in for the first time.
    case connected(Hello)
    /// The connection was lost (or could not be made); the next attempt is in `retryInSeconds`.
    case away(reason: ConnectionError, retryInSeconds: Double)
    /// Connected and logged in again after being away; missed events follow, then live ones.
    case back
    /// Stopped for good: `stop()` was called (nil), or a failure that retrying cannot mend
    /// (a refused certificate, a refused LOGIN).
    case stopped(ConnectionError?)
}

/// What a session delivers, in order.
public enum SessionUpdate: Sendable, Hashable {
    case state(SessionState)
    /// A room event, each exactly once and in seq order per room, missed ones included.
    case event(Event)
    /// A room's history on the server is shorter than what was seen: see `RoomReset`.
    case reset(RoomReset)
    /// Any other line outside a reply: `READ`, `NOTICE`, `BYE`, lines of unknown kind.
    ///
    /// Also, after each (re)login, right after `.state(.connected)` or `.state(.back)` and
    /// before that connection's resets and events: one `* JOINED <room> last=<seq> read=<seq>`
    /// data line per room the connection is attached to (the LOGIN reply's own lines; against a
    /// 1.0 server, made from each re-JOIN's `OK JOIN last=`, without `read=`). A UI opens its
    /// room windows and unread counts from them; see `JoinedRoom`.
    case message(ServerMessage)
}

/// One `* JOINED` line of a (re)login, typed: a room the connection is attached to, its newest
/// seq and the account's read marker (nil from a 1.0 server, which keeps none).
public struct JoinedRoom: Sendable, Hashable {
    public var room: String
    public var last: UInt64
    public var read: UInt64?

    public init(room: String, last: UInt64, read: UInt64? = nil) {
        self.room = room
        self.last = last
        self.read = read
    }

    /// The room of a `* JOINED` data line (nil for any other line).
    public init?(_ line: DataLine) {
        guard line.word == "JOINED", let room = line.arguments.first else { return nil }
        self.init(room: room, last: line.number("last") ?? 0, read: line.number("read"))
    }

    /// As a `* JOINED` data line (how the session passes it on in `SessionUpdate.message`).
    public var dataLine: DataLine {
        var fields = [ServerLineField("last", String(last))]
        if let read { fields.append(ServerLineField("read", String(read))) }
        return DataLine(word: "JOINED", arguments: [room], fields: fields)
    }
}

/// A connection that comes back: logs in, keeps the last seq seen per room, and after a drop
/// reconnects (with `Backoff`), logs in again and fills every room's gap from HISTORY before
/// the live events, so each event is delivered exactly once and in order (wire contract 1.1,
/// "Resume on LOGIN"). The ordering rules are in `ResumeTracker`; this actor does the I/O.
///
/// An actor, because its state (the tracker, the current connection) is touched by its own
/// reconnect loop and by callers' `send`s; `updates` is the one stream a bot or UI reads.
/// Against a 1.0 server (no `* JOINED` lines, no stored membership) it JOINs the rooms it
/// tracks again after LOGIN and reads `OK JOIN last=` instead.
public actor PartnerlineSession {
    /// Everything in order: state changes, events, resets, other lines. Finishes after `stop()`
    /// or a fatal failure. One consumer; buffered until read.
    public nonisolated let updates: AsyncStream<SessionUpdate>
    private let updatesContinuation: AsyncStream<SessionUpdate>.Continuation

    private let options: ConnectionOptions
    private let account: String
    private let password: String
    private let backoff: Backoff
    private let historyPageSize: Int
    private var tracker: ResumeTracker
    private var connection: PartnerlineConnection?
    private var runner: Task<Void, Never>?
    private var stopping = false
    private var everConnected = false
    public private(set) var state: SessionState = .connecting(attempt: 0)
    /// SHA-256 of the certificate of the server connected to last (nil before, or for plaintext).
    public private(set) var serverFingerprint: String?

    /// `cursors`: the last seq seen per room, from an earlier run (see `cursors`), so missed
    /// events are delivered also across restarts of this program. `password` is `*` for a
    /// client certificate login.
    public init(options: ConnectionOptions, account: String, password: String, cursors: [String: UInt64] = [:],
                backoff: Backoff = Backoff(), historyPageSize: Int = 200) {
        self.options = options
        self.account = account
        self.password = password
        self.backoff = backoff
        self.historyPageSize = max(1, min(500, historyPageSize))
        tracker = ResumeTracker(cursors: cursors)
        wasJoined = Set(cursors.keys)
        (updates, updatesContinuation) = AsyncStream<SessionUpdate>.makeStream(bufferingPolicy: .unbounded)
    }

    /// The last seq delivered per room: save it to resume after a restart of the program.
    public var cursors: [String: UInt64] { tracker.cursors }

    /// Starts connecting (and reconnecting) in the background.
    public func start() {
        guard runner == nil, !stopping else { return }
        runner = Task { await self.run() }
    }

    /// Ends the session: closes the connection and finishes `updates`.
    public func stop() async {
        stopping = true
        connection?.close()
        runner?.cancel()
        await runner?.value
        if case .stopped = state {} else { emitState(.stopped(nil)) }
        updatesContinuation.finish()
    }

    /// Sends a command on the current connection. Throws `ConnectionError` (`.closed`) while away:
    /// the caller decides whether to retry (a command is never sent twice behind its back).
    /// `OK JOIN` and `OK PART` replies also update what the session tracks.
    public func send(_ command: ClientCommand) async throws(ConnectionError) -> CommandReply {
        guard let connection else {
            throw ConnectionError(.closed, "not connected: \(Self.describe(state))")
        }
        let reply = try await connection.send(command)
        if case .ok(let ok) = reply.final, let room = ok["room"] {
            if ok.verb == "JOIN" {
                let step = tracker.joined(room: room, last: ok.number("last") ?? 0)
                emit(step.outputs)
                if !step.fetches.isEmpty { await fetch(step.fetches, on: connection) }
            } else if ok.verb == "PART" {
                tracker.parted(room: room)
            }
        }
        return reply
    }

    // MARK: The loop

    private func run() async {
        var attempt = 0
        reconnecting: while !stopping && !Task.isCancelled {
            emitState(.connecting(attempt: attempt))
            let outcome = await connectAndLogIn()
            guard !stopping else { break reconnecting }
            switch outcome {
            case .fatal(let error):
                emitState(.stopped(error))
                updatesContinuation.finish()
                return
            case .retry(let error):
                attempt += 1
                guard await wait(error, attempt: attempt) else { break reconnecting }
            case .connected(let connection, let login):
                attempt = 0
                // Rooms first (a 1.0 server needs its JOINs before anything else is sent), then
                // callers may send while the missed events are fetched.
                let (step, joined) = await attach(connection, login: login)
                self.connection = connection
                serverFingerprint = connection.serverFingerprint
                emitState(everConnected ? .back : .connected(connection.hello))
                everConnected = true
                // What a UI needs after each (re)login: the rooms with their newest seq and read
                // marker, before the resets and missed events that follow.
                for room in joined { updatesContinuation.yield(.message(.data(room.dataLine))) }
                emit(step.outputs)
                await fetch(step.fetches, on: connection)
                for await message in connection.messages {
                    await handle(message, on: connection)
                }
                self.connection = nil
                wasJoined = tracker.joinedRooms
                tracker.disconnected()
                guard !stopping else { break reconnecting }
                attempt = 1
                guard await wait(await connection.closed(), attempt: attempt) else { break reconnecting }
            }
        }
    }

    private enum Outcome {
        case connected(PartnerlineConnection, CommandReply)
        case retry(ConnectionError)
        case fatal(ConnectionError)
    }

    private func connectAndLogIn() async -> Outcome {
        let connection: PartnerlineConnection
        do {
            connection = try await PartnerlineConnection.connect(options)
        } catch {
            switch error.kind {
            // A refusal (trust, protocol) stays final so a changed certificate is never accepted
            // by retrying; a server that went away (even mid-handshake) is retried.
            case .untrustedServer, .tls, .plaintextNotLoopback, .encoding: return .fatal(error)
            case .connect, .handshakeInterrupted, .timedOut, .closed: return .retry(error)
            }
        }
        do {
            let login = try await connection.send(.login(account, password: password))
            if let refusal = login.error {
                connection.close()
                let error = ConnectionError(.closed, "LOGIN refused: \(refusal)")
                switch refusal.code {
                case "AUTH_FAILED", "AUTH_REQUIRED", "FORBIDDEN", "PLAINTEXT_REFUSED", "BAD_SYNTAX": return .fatal(error)
                default: return .retry(error)   // RATE_LIMITED, TOO_MANY_CONNECTIONS, STORAGE ...
                }
            }
            return .connected(connection, login)
        } catch {
            return .retry(error)
        }
    }

    /// Sleeps the backoff delay after reporting `.away`; false if stopped meanwhile.
    private func wait(_ reason: ConnectionError, attempt: Int) async -> Bool {
        let delay = backoff.delaySeconds(attempt: attempt, random: Double.random(in: 0..<1))
        emitState(.away(reason: reason, retryInSeconds: delay))
        do {
            try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
        } catch {
            return false
        }
        return !stopping
    }

    /// After LOGIN: which rooms the connection is attached to, and what to fetch.
    private func attach(_ connection: PartnerlineConnection, login: CommandReply) async
        -> (step: ResumeTracker.Step, joined: [JoinedRoom]) {
        if login.ok?["rooms"] != nil || login.data.contains(where: { $0.word == "JOINED" }) {
            return (tracker.attached(joinedLines: login.data), login.data.compactMap(JoinedRoom.init))
        }
        // A 1.0 server: membership is not stored, so JOIN the rooms joined before.
        var rooms: [(room: String, last: UInt64)] = []
        for room in wasJoined.sorted() {
            guard let reply = try? await connection.send(.join(room)), let ok = reply.ok else { continue }
            rooms.append((room, ok.number("last") ?? 0))
        }
        return (tracker.attached(rooms), rooms.map { JoinedRoom(room: $0.room, last: $0.last) })
    }

    /// The rooms joined on the previous connection (for a 1.0 server's re-JOIN); at first, the
    /// rooms of the cursors given.
    private var wasJoined: Set<String>

    private func handle(_ message: ServerMessage, on connection: PartnerlineConnection) async {
        guard case .event(let event) = message else {
            updatesContinuation.yield(.message(message))
            return
        }
        let step = tracker.live(event)
        emit(step.outputs)
        if !step.fetches.isEmpty { await fetch(step.fetches, on: connection) }
    }

    /// Fetches HISTORY pages until every range is delivered (pages may ask for more pages).
    private func fetch(_ fetches: [ResumeTracker.Fetch], on connection: PartnerlineConnection) async {
        var queue = fetches[...]
        while let next = queue.popFirst() {
            let reply: CommandReply
            do {
                reply = try await connection.send(.history(next.room, after: next.after, before: next.before, limit: historyPageSize))
            } catch {
                return   // the connection ended; the next LOGIN starts over from the cursors
            }
            let step: ResumeTracker.Step
            if let ok = reply.ok {
                let more = ok["more"].map { $0 == "yes" } ?? (reply.events.count >= historyPageSize)
                step = tracker.page(next, events: reply.events, more: more)
            } else {
                step = tracker.pageFailed(next)
            }
            emit(step.outputs)
            queue.append(contentsOf: step.fetches)
        }
    }

    private func emit(_ outputs: [ResumeTracker.Output]) {
        for output in outputs {
            switch output {
            case .event(let event): updatesContinuation.yield(.event(event))
            case .reset(let reset): updatesContinuation.yield(.reset(reset))
            }
        }
    }

    private func emitState(_ new: SessionState) {
        state = new
        updatesContinuation.yield(.state(new))
    }

    private static func describe(_ state: SessionState) -> String {
        switch state {
        case .connecting: "connecting"
        case .connected, .back: "connected"
        case .away(let reason, _): "away (\(reason))"
        case .stopped: "stopped"
        }
    }
}
