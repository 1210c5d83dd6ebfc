import Foundation
import PartnerlineClient
import Testing

/// What a session delivered, for the test to look at while it runs.
actor Inbox {
    private(set) var events: [Event] = []
    private(set) var states: [SessionState] = []
    private(set) var resets: [RoomReset] = []
    /// The `* JOINED` lines passed on after each (re)login.
    private(set) var joined: [JoinedRoom] = []
    /// How many events had been delivered when the first `* JOINED` line came.
    private(set) var eventsBeforeFirstJoined: Int?

    func take(_ update: SessionUpdate) {
        switch update {
        case .event(let event): events.append(event)
        case .state(let state): states.append(state)
        case .reset(let reset): resets.append(reset)
        case .message(let message):
            if case .data(let line) = message, let room = JoinedRoom(line) {
                if eventsBeforeFirstJoined == nil { eventsBeforeFirstJoined = events.count }
                joined.append(room)
            }
        }
    }

    func lastSeq(in room: String) -> UInt64 { events.last { $0.room == room }?.seq ?? 0 }
    var stateNames: [String] {
        states.map {
            switch $0 {
            case .connecting: "connecting"
            case .connected: "connected"
            case .away: "away"
            case .back: "back"
            case .stopped: "stopped"
            }
        }
    }
}

/// Reads a session's updates into an inbox until the session ends.
func collect(_ session: PartnerlineSession, into inbox: Inbox) -> Task<Void, Never> {
    Task {
        for await update in session.updates { await inbox.take(update) }
    }
}

/// Polls `condition` every 20 ms until it holds (the suite's time limit bounds the wait).
func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
    while try await !condition() {
        try await Task.sleep(nanoseconds: 20_000_000)
    }
}

/// Every event of a room, oldest first, paged with `more=`.
func wholeHistory(_ server: RealServer, room: String, account: String) async throws -> [Event] {
    let connection = try await PartnerlineConnection.connect(server.caOptions)
    defer { connection.close() }
    try await connection.registerAndLogin(account)
    _ = try await connection.send(.join(room)).checked()
    var events: [Event] = []
    while true {
        let reply = try await connection.send(.history(room, after: events.last?.seq ?? 0, limit: 500))
        let ok = try reply.checked()
        events += reply.events
        if reply.events.isEmpty || ok["more"] == "no" || (ok["more"] == nil && reply.events.count < 500) { break }
    }
    return events
}

/// Keeps posting numbered lines through a session of its own, retrying one that got no reply
/// (it may then be stored twice: the reader must still see each stored event once).
actor Poster {
    private(set) var posted = 0
    private let session: PartnerlineSession
    private let room: String

    init(_ session: PartnerlineSession, room: String) {
        self.session = session
        self.room = room
    }

    func post(upTo count: Int) async throws {
        while posted < count {
            do {
                _ = try await session.send(.say(room, "post \(posted + 1)")).checked()
                posted += 1
            } catch is ConnectionError {
                try await Task.sleep(nanoseconds: 20_000_000)   // away: the session reconnects by itself
            }
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(4)))
struct ResumeEndToEndTests {
    static let room = "c1/general"
    static let fastBackoff = Backoff(initialSeconds: 0.05, maximumSeconds: 0.5)

    private func session(_ server: RealServer, _ account: String, cursors: [String: UInt64] = [:], pageSize: Int = 200,
                         backoff: Backoff = fastBackoff) async throws -> (PartnerlineSession, Inbox, Task<Void, Never>) {
        let setup = try await PartnerlineConnection.connect(server.caOptions)
        try await setup.registerAndLogin(account)
        setup.close()
        let session = PartnerlineSession(options: server.caOptions, account: account, password: "correct-horse-battery",
                                         cursors: cursors, backoff: backoff, historyPageSize: pageSize)
        let inbox = Inbox()
        let collector = collect(session, into: inbox)
        await session.start()
        try await eventually("logged in") { await inbox.stateNames.contains("connected") }
        return (session, inbox, collector)
    }

    @Test func aReaderComesBackAcrossSIGTERMAndSIGKILLWhileAnotherPostsAndSeesEveryEventOnceInOrder() async throws {
        let server = try RealServer()
        // The reader comes back slower than the poster, so it has missed events to page through.
        let (reader, inbox, readerInbox) = try await session(server, "reader", pageSize: 7,
                                                             backoff: Backoff(initialSeconds: 1.0, maximumSeconds: 1.5))
        _ = try await reader.send(.join(Self.room)).checked()
        let (posterSession, _, _) = try await session(server, "poster")
        _ = try await posterSession.send(.join(Self.room)).checked()
        let poster = Poster(posterSession, room: Self.room)

        let posting = Task { try await poster.post(upTo: 120) }
        try await eventually("some posts") { await poster.posted >= 25 }
        #expect(server.stop(signal: SIGTERM) == 0)
        try server.start()
        try await eventually("reader back, more posts") {
            let back = await inbox.stateNames.contains("back")
            let posted = await poster.posted
            return back && posted >= 70
        }
        server.stop(signal: SIGKILL)
        try server.start()
        try await posting.value
        try await eventually("reader back again") { await inbox.stateNames.filter { $0 == "back" }.count >= 2 }

        let history = try await wholeHistory(server, room: Self.room, account: "auditor")
        #expect(history.count >= 120)
        try await eventually("reader caught up") { await inbox.lastSeq(in: Self.room) >= history.last!.seq }
        let seen = await inbox.events.filter { $0.room == Self.room }
        #expect(seen.map(\.seq) == history.map(\.seq), "every event once, in order")
        #expect(seen.map(\.text) == history.map(\.text))
        #expect(await inbox.resets.isEmpty)
        let states = await inbox.stateNames
        #expect(states.filter { $0 == "back" }.count >= 2, "\(states)")
        #expect(states.firstIndex(of: "away")! < states.firstIndex(of: "back")!)
        // After each LOGIN again, the room comes back as a `* JOINED` line with its markers.
        let rejoined = await inbox.joined
        #expect(rejoined.count >= 2 && rejoined.allSatisfy { $0.room == Self.room && $0.read != nil }, "\(rejoined)")

        await reader.stop()
        await posterSession.stop()
        await readerInbox.value
        #expect(await inbox.stateNames.last == "stopped")
    }

    @Test func aProgramRestartedWithItsCursorsGetsWhatItMissedPageByPage() async throws {
        let server = try RealServer()
        let (poster, _, _) = try await session(server, "poster")
        _ = try await poster.send(.join(Self.room)).checked()
        let (first, firstInbox, firstCollector) = try await session(server, "reader", pageSize: 6)
        _ = try await first.send(.join(Self.room)).checked()
        for i in 1...5 { _ = try await poster.send(.say(Self.room, "before \(i)")).checked() }
        try await eventually("first run saw 5") { await firstInbox.lastSeq(in: Self.room) == 5 }
        let saved = await first.cursors
        #expect(saved[Self.room] == 5)
        await first.stop()
        await firstCollector.value

        for i in 1...40 { _ = try await poster.send(.say(Self.room, "missed \(i)")).checked() }
        let (second, secondInbox, _) = try await session(server, "reader", cursors: saved, pageSize: 6)
        for i in 1...3 { _ = try await poster.send(.say(Self.room, "live \(i)")).checked() }
        try await eventually("second run caught up") { await secondInbox.lastSeq(in: Self.room) == 48 }
        let seen = await secondInbox.events.filter { $0.room == Self.room }
        #expect(seen.map(\.seq) == Array(6...48))
        #expect(seen.first?.text == "missed 1" && seen.last?.text == "live 3")
        // The LOGIN reply's JOINED line is passed on before any event, with both markers.
        #expect(await secondInbox.joined == [JoinedRoom(room: Self.room, last: 45, read: 0)])
        #expect(await secondInbox.eventsBeforeFirstJoined == 0)
        await second.stop()
        await poster.stop()
    }

    /// What the session reads after LOGIN on a 1.1 server, from the real server: `* JOINED` per
    /// member room (membership is stored) and `rooms=` on the OK.
    @Test func aLoginReplyCarriesJoinedLinesTheTrackerPagesFrom() async throws {
        let server = try RealServer()
        let first = try await PartnerlineConnection.connect(server.caOptions)
        try await first.registerAndLogin("member")
        _ = try await first.send(.join(Self.room)).checked()
        for i in 1...3 { _ = try await first.send(.say(Self.room, "m\(i)")).checked() }
        await first.quit()

        let again = try await PartnerlineConnection.connect(server.caOptions)
        let login = try await again.send(.login("member", password: "correct-horse-battery"))
        #expect(login.ok?["rooms"] == "1")
        let joined = login.data.filter { $0.word == "JOINED" }
        #expect(joined.map { $0.arguments } == [[Self.room]] && joined.first?.number("last") == 3 && joined.first?.number("read") == 0)
        var tracker = ResumeTracker(cursors: [Self.room: 1])
        let step = tracker.attached(joinedLines: login.data)
        #expect(step.fetches == [ResumeTracker.Fetch(room: Self.room, after: 1, before: 4)])
        let page = try await again.send(.history(Self.room, after: 1, before: 4, limit: 1))
        #expect(page.ok?["more"] == "yes")
        let delivered = tracker.page(step.fetches[0], events: page.events, more: true)
        #expect(delivered.fetches == [ResumeTracker.Fetch(room: Self.room, after: 2, before: 4)])
        let last = try await again.send(.history(Self.room, after: 2, before: 4, limit: 1))
        #expect(last.ok?["more"] == "no" && last.events.map(\.text) == ["m3"])
        again.close()
    }

    @Test func aRestoredDataDirIsReportedAsAReset() async throws {
        let server = try RealServer()
        let (poster, _, _) = try await session(server, "poster")
        _ = try await poster.send(.join(Self.room)).checked()
        _ = try await poster.send(.say(Self.room, "only one")).checked()
        // The reader remembers seq 30 from "before the restore".
        let (reader, inbox, _) = try await session(server, "reader", cursors: [Self.room: 30])
        if await inbox.resets.isEmpty {
            // A 1.0 server re-JOINs on login only for rooms it knew; a 1.1 server sends JOINED once
            // the account is a member. Either way a JOIN now must report it.
            _ = try await reader.send(.join(Self.room)).checked()
        }
        try await eventually("reset reported") { await !inbox.resets.isEmpty }
        #expect(await inbox.resets == [RoomReset(room: Self.room, keptSeq: 30, serverLast: 1)])
        _ = try await poster.send(.say(Self.room, "after the restore")).checked()
        try await eventually("new events delivered") { await inbox.lastSeq(in: Self.room) == 2 }
        await reader.stop()
        await poster.stop()
    }
}
