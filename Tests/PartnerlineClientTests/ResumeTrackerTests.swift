import PartnerlineClient
import Testing

/// The resume rules against scripted server lines (what a 1.1 server sends), without I/O.
@Suite struct ResumeTrackerTests {
    private func ev(_ room: String, _ seq: UInt64, tag: String? = nil) -> Event {
        let line = "\(tag.map { "@\($0) " } ?? "")EV \(room) \(seq) 2026-12-07T01:00:00.000Z a1 SAY :m\(seq)"
        guard case .event(let event) = ServerMessage(line) else { fatalError(line) }
        return event
    }

    private func joined(_ lines: String...) -> [DataLine] {
        lines.compactMap { if case .data(let line) = ServerMessage($0) { line } else { nil } }
    }

    private func seqs(_ step: ResumeTracker.Step) -> [UInt64] {
        step.outputs.compactMap { if case .event(let event) = $0 { event.seq } else { nil } }
    }

    @Test func fillsTheGapPageByPageThenDeliversHeldLiveEventsOnce() {
        var tracker = ResumeTracker(cursors: ["c1/a": 3, "c1/b": 7])
        let login = tracker.attached(joinedLines: joined("* JOINED c1/a last=10 read=2", "* JOINED c1/b last=7 read=7",
                                                         "* JOINED c1/new last=5 read=0"))
        #expect(login.outputs.isEmpty)
        #expect(login.fetches == [ResumeTracker.Fetch(room: "c1/a", after: 3, before: 11)])
        #expect(tracker.cursors["c1/new"] == 5)   // a room without a cursor starts at its last

        // Live events arrive while paging: held, not delivered.
        #expect(tracker.live(ev("c1/a", 11)).outputs.isEmpty)
        #expect(tracker.live(ev("c1/a", 12)).outputs.isEmpty)
        #expect(seqs(tracker.live(ev("c1/b", 8))) == [8])   // another room is live meanwhile
        #expect(tracker.isCatchingUp("c1/a"))

        let first = tracker.page(login.fetches[0], events: [ev("c1/a", 4, tag: "c2"), ev("c1/a", 5, tag: "c2"), ev("c1/a", 6, tag: "c2")], more: true)
        #expect(seqs(first) == [4, 5, 6])
        #expect(first.fetches == [ResumeTracker.Fetch(room: "c1/a", after: 6, before: 11)])
        // A held duplicate of a paged event, and a live one repeated: still once each.
        #expect(tracker.live(ev("c1/a", 12)).outputs.isEmpty)
        let last = tracker.page(first.fetches[0], events: (7...10).map { ev("c1/a", $0) }, more: false)
        #expect(seqs(last) == [7, 8, 9, 10, 11, 12])
        #expect(last.fetches.isEmpty && !tracker.isCatchingUp("c1/a"))
        #expect(tracker.cursors["c1/a"] == 12)

        // Live again: duplicates dropped, next delivered.
        #expect(tracker.live(ev("c1/a", 12)).outputs.isEmpty)
        #expect(seqs(tracker.live(ev("c1/a", 13))) == [13])
    }

    @Test func aRestoredRoomIsReportedAsAResetNeverSkipped() {
        var tracker = ResumeTracker(cursors: ["c1/a": 40])
        let step = tracker.attached(joinedLines: joined("* JOINED c1/a last=25 read=0"))
        #expect(step.outputs == [.reset(RoomReset(room: "c1/a", keptSeq: 40, serverLast: 25))])
        #expect(step.fetches.isEmpty)
        // Events after the restored last are new and delivered (not dropped as "seen").
        #expect(seqs(tracker.live(ev("c1/a", 26))) == [26])
        var joinTracker = ResumeTracker(cursors: ["c1/a": 9])
        #expect(joinTracker.joined(room: "c1/a", last: 2).outputs == [.reset(RoomReset(room: "c1/a", keptSeq: 9, serverLast: 2))])
    }

    @Test func aLiveGapInAMemberRoomIsFilledBeforeDelivery() {
        var tracker = ResumeTracker()
        #expect(tracker.joined(room: "c1/a", last: 4).fetches.isEmpty)
        #expect(seqs(tracker.live(ev("c1/a", 5))) == [5])
        let gap = tracker.live(ev("c1/a", 8))
        #expect(gap.outputs.isEmpty && gap.fetches == [ResumeTracker.Fetch(room: "c1/a", after: 5, before: 8)])
        #expect(seqs(tracker.page(gap.fetches[0], events: [ev("c1/a", 6), ev("c1/a", 7)], more: false)) == [6, 7, 8])
        // A page that cannot be fetched does not hold the room forever.
        let second = tracker.live(ev("c1/a", 11))
        #expect(seqs(tracker.pageFailed(second.fetches[0])) == [11])
        // Rooms that are not joined (WATCH deliveries) are delivered once each, gaps and all.
        #expect(seqs(tracker.live(ev("c2/x", 3))) == [3])
        #expect(seqs(tracker.live(ev("c2/x", 9))) == [9])
        #expect(seqs(tracker.live(ev("c2/x", 9))) == [])
    }

    @Test func aDisconnectDropsWhatWasHeldAndTheNextLoginFetchesItAgain() {
        var tracker = ResumeTracker(cursors: ["c1/a": 1])
        let login = tracker.attached(joinedLines: joined("* JOINED c1/a last=3 read=0"))
        _ = tracker.live(ev("c1/a", 4))
        #expect(seqs(tracker.page(login.fetches[0], events: [ev("c1/a", 2)], more: true)) == [2])
        tracker.disconnected()
        // The second page arrives late (stale): ignored.
        #expect(tracker.page(ResumeTracker.Fetch(room: "c1/a", after: 2, before: 4), events: [ev("c1/a", 3)], more: false) == ResumeTracker.Step())
        let again = tracker.attached(joinedLines: joined("* JOINED c1/a last=6 read=0"))
        #expect(again.fetches == [ResumeTracker.Fetch(room: "c1/a", after: 2, before: 7)])
        #expect(seqs(tracker.page(again.fetches[0], events: (3...6).map { ev("c1/a", $0) }, more: false)) == [3, 4, 5, 6])
    }

    @Test func aPageWithoutProgressEndsTheCatchUp() {
        var tracker = ResumeTracker(cursors: ["c1/a": 1])
        let login = tracker.attached(joinedLines: joined("* JOINED c1/a last=5"))
        // more=yes but nothing new (a confused server): stop rather than loop.
        let step = tracker.page(login.fetches[0], events: [ev("c1/a", 1)], more: true)
        #expect(step.fetches.isEmpty && !tracker.isCatchingUp("c1/a"))
    }

    @Test func backoffGrowsIsCappedAndJittered() {
        let backoff = Backoff(initialSeconds: 0.5, maximumSeconds: 8)
        #expect(backoff.delaySeconds(attempt: 1, random: 0) == 0.25)
        #expect(backoff.delaySeconds(attempt: 1, random: 1) == 0.5)
        #expect(backoff.delaySeconds(attempt: 3, random: 0.5) == 1.5)
        #expect(backoff.delaySeconds(attempt: 10, random: 1) == 8)
        #expect(backoff.delaySeconds(attempt: 1000, random: 0) == 4)
        var seen = Set<Double>()
        for r in stride(from: 0.0, to: 1.0, by: 0.1) { seen.insert(backoff.delaySeconds(attempt: 4, random: r)) }
        #expect(seen.count == 10 && seen.allSatisfy { $0 >= 2 && $0 <= 4 })
    }
}

/// The `* JOINED` lines a session passes on after each (re)login, typed.
@Suite struct JoinedRoomTests {
    @Test func readsAJoinedLineAndWritesItBack() {
        let line = DataLine(word: "JOINED", arguments: ["c1/general"], fields: [ServerLineField("last", "12"), ServerLineField("read", "9")])
        #expect(JoinedRoom(line) == JoinedRoom(room: "c1/general", last: 12, read: 9))
        #expect(JoinedRoom(line)?.dataLine == line)
        // From a 1.0 server's re-JOIN: no read marker, and none is made up.
        let old = JoinedRoom(room: "c1/general", last: 3)
        #expect(old.dataLine.fields == [ServerLineField("last", "3")])
        #expect(JoinedRoom(old.dataLine) == old)
        // Any other data line is not a room.
        #expect(JoinedRoom(DataLine(word: "ROOM", arguments: ["c1/general"])) == nil)
        #expect(JoinedRoom(DataLine(word: "JOINED")) == nil)
    }
}
