import PartnerlineCore
import PartnerlineProtocol
import Testing

/// Protocol 1.1 in the domain: read markers, room changes as room events (and the records of old
/// journals that still replay), funding alerts with a ref that arrive once, and STATUS on alerts.
struct ReadMarkerTests {
    let definition = ClusterDefinition(name: "rural", description: "Rural", rooms: [.init(name: "general", topic: "Hello")])
    let general = RoomName(cluster: "rural", room: "general")

    func stateWithEvents(_ count: UInt64) throws -> ClusterState {
        var state = ClusterState(definition: definition)
        try state.apply(.memberJoined(room: general, account: "boston-mind", timeMillis: 1))
        for seq in 1...count {
            try state.apply(.event(StoredEvent(room: general, seq: seq, timeMillis: 2, actor: "boston-mind", kind: "SAY", text: "m\(seq)")))
        }
        return state
    }

    @Test func markersOnlyMoveForwardAndSurviveTheJournal() throws {
        var state = try stateWithEvents(10)
        let entry = try #require(try state.prepareMark(room: general, account: "boston-mind", seq: 7, timeMillis: 3).get())
        // Through the codec, as the journal stores it.
        let decoded = try JournalEntryCodec.decode(JournalEntryCodec.encode(entry))
        try state.apply(decoded)
        #expect(state.room(general)?.readMarker(of: "boston-mind") == 7)
        // Lower and equal seqs store nothing.
        #expect(try state.prepareMark(room: general, account: "boston-mind", seq: 5, timeMillis: 4).get() == nil)
        #expect(try state.prepareMark(room: general, account: "boston-mind", seq: 7, timeMillis: 4).get() == nil)
        // A replayed lower marker (never written by the server, but a fold must not go backwards) changes nothing.
        try state.apply(.readMarker(room: general, account: "boston-mind", seq: 3, timeMillis: 5))
        #expect(state.room(general)?.readMarker(of: "boston-mind") == 7)
        #expect(state.room(general)?.readMarker(of: "lincoln-aid") == 0)
    }

    @Test func markRefusals() throws {
        let state = try stateWithEvents(3)
        #expect(throws: DomainError(.invalidState, "rural/general has no event 4 (its last is 3)")) {
            try state.prepareMark(room: general, account: "boston-mind", seq: 4, timeMillis: 1).get()
        }
        #expect(throws: DomainError(.notJoined, "JOIN rural/general first")) {
            try state.prepareMark(room: general, account: "lincoln-aid", seq: 1, timeMillis: 1).get()
        }
        #expect(throws: DomainError(.noSuchRoom, "no room attic in cluster rural")) {
            try state.prepareMark(room: RoomName(cluster: "rural", room: "attic"), account: "boston-mind", seq: 1, timeMillis: 1).get()
        }
    }

    @Test func readMarkerRecordRoundTrips() throws {
        let entry = JournalEntry.readMarker(room: general, account: "boston-mind", seq: 42, timeMillis: 9)
        let text = String(decoding: JournalEntryCodec.encode(entry), as: UTF8.self)
        #expect(text == #"{"account":"boston-mind","room":"rural/general","seq":42,"time":9,"type":"read"}"#)
        guard case .readMarker(let room, let account, let seq, let time) = try JournalEntryCodec.decode(Array(text.utf8)) else {
            Issue.record("not a read marker")
            return
        }
        #expect(room == general && account == "boston-mind" && seq == 42 && time == 9)
        #expect(throws: JournalEntryDecodingError.self) {
            try JournalEntryCodec.decode(Array(#"{"type":"read","time":1,"room":"rural/general","account":"a"}"#.utf8))
        }
    }
}

struct RoomChangeEventTests {
    let definition = ClusterDefinition(name: "rural", description: "Rural", rooms: [.init(name: "general", topic: "Hello")])
    let general = RoomName(cluster: "rural", room: "general")
    let premises = RoomName(cluster: "rural", room: "premises")

    /// Prepares an action and stores its event the way a shard does (next seq of its room).
    func run(_ action: ModerationAction, _ state: inout ClusterState) throws -> StoredEvent? {
        switch try state.prepare(action, by: "fac", timeMillis: 5).get() {
        case .record(let entry):
            try state.apply(entry)
            return nil
        case .event(let draft):
            let event = draft.stored(seq: (state.room(draft.room)?.lastSeq ?? 0) + 1, timeMillis: 5)
            try state.apply(.event(event))
            return event
        }
    }

    @Test func roomChangesAreRoomEventsWithTheirFields() throws {
        var state = ClusterState(definition: definition)
        let made = try #require(try run(.createRoom(premises, topic: "Rooms to lend"), &state))
        #expect(String(decoding: made.encodedLine(), as: UTF8.self) == "EV rural/premises 1 1970-01-01T00:00:00.005Z fac ROOM :Rooms to lend\r\n")
        #expect(state.room(premises)?.topic == "Rooms to lend")
        let topic = try #require(try run(.setTopic(premises, topic: "Desks and storage"), &state))
        #expect(topic.seq == 2 && topic.kind == "TOPIC" && topic.text == "Desks and storage")
        #expect(state.room(premises)?.topic == "Desks and storage")
        let mute = try #require(try run(.mute(general, account: "spammer", reason: "adverts"), &state))
        #expect(String(decoding: mute.encodedLine(), as: UTF8.self) == "EV rural/general 1 1970-01-01T00:00:00.005Z fac MUTE account=spammer :adverts\r\n")
        #expect(state.isMuted("spammer", in: general))
        let unmute = try #require(try run(.unmute(general, account: "spammer"), &state))
        #expect(String(decoding: unmute.encodedLine(), as: UTF8.self) == "EV rural/general 2 1970-01-01T00:00:00.005Z fac UNMUTE account=spammer\r\n")
        #expect(!state.isMuted("spammer", in: general))
        // Policy and approval stay records of the cluster.
        #expect(try run(.setPolicy(.approval), &state) == nil)
        #expect(state.membershipPolicy == .approval)
        // Refusals as before.
        #expect(throws: DomainError.self) { try state.prepare(.createRoom(premises, topic: ""), by: "fac", timeMillis: 6).get() }
        #expect(throws: DomainError.self) { try state.prepare(.unmute(general, account: "spammer"), by: "fac", timeMillis: 6).get() }
    }

    @Test func journalsWithTheOldModerationRecordsStillReplay() throws {
        // Records as the server wrote them before protocol 1.1 (type room/topic/mute/unmute).
        let old = [
            #"{"by":"fac","room":"rural/premises","text":"Rooms","time":1,"type":"room"}"#,
            #"{"by":"fac","room":"rural/premises","text":"Desks","time":2,"type":"topic"}"#,
            #"{"account":"spammer","by":"fac","room":"rural/general","text":"adverts","time":3,"type":"mute"}"#,
            #"{"account":"other","by":"fac","room":"rural/general","time":4,"type":"mute"}"#,
            #"{"account":"other","by":"fac","room":"rural/general","time":5,"type":"unmute"}"#,
        ]
        var state = ClusterState(definition: definition)
        for line in old { try state.apply(JournalEntryCodec.decode(Array(line.utf8))) }
        #expect(state.room(premises)?.topic == "Desks")
        #expect(state.room(premises)?.lastSeq == 0, "old records are not events")
        #expect(state.isMuted("spammer", in: general) && !state.isMuted("other", in: general))
        // New room events follow on from there.
        let event = try #require(try run(.setTopic(premises, topic: "Storage"), &state))
        #expect(event.seq == 1)
        #expect(state.room(premises)?.topic == "Storage")
    }
}

private let fundingRoom = RoomName(cluster: "rural", room: "funding")

struct FundingRefTests {
    /// Stores drafts like a shard and keeps the events, so a replay can be compared.
    struct Store {
        var book = ItemBook()
        var events: [StoredEvent] = []
        var seq: UInt64 = 0

        mutating func run(_ action: ItemAction, by actor: String, moderates: Bool = false) -> Result<[StoredEvent], DomainError> {
            book.prepare(action, actor: actor, moderates: moderates).map { drafts in
                drafts.map { draft in
                    seq += 1
                    let event = draft.stored(seq: seq, timeMillis: 1)
                    book.apply(event)
                    events.append(event)
                    return event
                }
            }
        }
    }

    static func alert(_ number: UInt64, ref: String?) -> ItemDraft {
        ItemDraft(id: ItemID(kind: .funding, number: number), room: fundingRoom, text: "Community transport fund",
                  funder: "National Lottery Community Fund", ref: ref)
    }

    @Test func aRefIsKnownOnceAndAfterReplay() throws {
        var store = Store()
        _ = try store.run(.create(ItemDraft(id: ItemID("N1")!, room: fundingRoom, text: "chairs")), by: "a").get()
        let stored = try store.run(.create(Self.alert(1, ref: "https://example.org/fund/1")), by: "grants-bot").get()
        #expect(stored[0].field("ref") == "https://example.org/fund/1")
        let first = try #require(store.book.fundingAlert(ref: "https://example.org/fund/1"))
        #expect(first.id == ItemID("F1") && first.seq == 2 && first.ref == "https://example.org/fund/1")
        #expect(first.summaryFields.contains { $0 == ("ref", "https://example.org/fund/1") })
        // prepare never lets a second alert with the ref be stored (the shard answers duplicate=yes first).
        #expect(throws: DomainError.self) { try store.run(.create(Self.alert(2, ref: "https://example.org/fund/1")), by: "grants-bot").get() }
        // Without a ref, or with another, alerts are stored as before.
        _ = try store.run(.create(Self.alert(3, ref: nil)), by: "grants-bot").get()
        _ = try store.run(.create(Self.alert(4, ref: "guid-4")), by: "grants-bot").get()
        var replayed = ItemBook()
        for event in store.events { replayed.apply(event) }
        #expect(replayed.fundingRefs == store.book.fundingRefs)
        #expect(replayed.fundingRefs == ["https://example.org/fund/1": ItemID("F1")!, "guid-4": ItemID("F4")!])
        #expect(replayed.fundingAlert(ref: "guid-4")?.seq == 4)
        #expect(replayed.fundingAlert(ref: "unknown") == nil)
    }

    @Test func theAlertsPosterOrAFacilitatorClosesAndReopensIt() throws {
        var store = Store()
        _ = try store.run(.create(Self.alert(1, ref: "r1")), by: "grants-bot").get()
        let f1 = ItemID("F1")!
        #expect(throws: DomainError.self) { try store.run(.status(f1, .closed, note: nil), by: "someone-else").get() }
        _ = try store.run(.status(f1, .closed, note: "filled"), by: "grants-bot").get()
        #expect(store.book[f1]?.status == .closed)
        #expect(store.book.list(room: fundingRoom, kind: .funding, all: false).isEmpty, "a closed alert is not live")
        #expect(throws: DomainError.self) { try store.run(.status(f1, .closed, note: nil), by: "grants-bot").get() }
        _ = try store.run(.status(f1, .open, note: nil), by: "a-facilitator", moderates: true).get()
        #expect(store.book[f1]?.status == .open)
        // A proposal's statuses are not an alert's.
        #expect(throws: DomainError.self) { try store.run(.status(f1, .submitted, note: nil), by: "grants-bot").get() }
        // A closed alert cannot be answered by a new proposal.
        _ = try store.run(.status(f1, .closed, note: nil), by: "grants-bot").get()
        #expect(throws: DomainError.self) {
            try store.run(.create(ItemDraft(id: ItemID("P1")!, room: fundingRoom, text: "bid", answers: f1)), by: "a").get()
        }
    }
}
