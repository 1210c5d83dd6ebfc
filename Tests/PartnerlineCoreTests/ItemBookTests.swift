import PartnerlineCore
import PartnerlineProtocol
import Testing

/// Stores drafts the way a shard does (seq per room, one clock), and folds them.
private struct Cluster {
    var book = ItemBook()
    var events: [StoredEvent] = []
    var seqs: [RoomName: UInt64] = [:]
    var now: Int64 = CalendarDate(year: 2026, month: 11, day: 25)!.startMillis

    @discardableResult
    mutating func run(_ action: ItemAction, by actor: String, moderates: Bool = false) -> Result<[StoredEvent], DomainError> {
        switch book.prepare(action, actor: actor, moderates: moderates) {
        case .failure(let error): return .failure(error)
        case .success(let drafts): return .success(store(drafts))
        }
    }

    /// Runs an action that must succeed.
    mutating func must(_ action: ItemAction, by actor: String, moderates: Bool = false) throws {
        _ = try run(action, by: actor, moderates: moderates).get()
    }

    mutating func store(_ drafts: [EventDraft]) -> [StoredEvent] {
        drafts.map { draft in
            let seq = (seqs[draft.room] ?? 0) + 1
            seqs[draft.room] = seq
            let event = draft.stored(seq: seq, timeMillis: now)
            book.apply(event)
            events.append(event)
            return event
        }
    }

    /// A fresh book folded from the stored events: what a restart sees.
    var replayed: ItemBook {
        var fresh = ItemBook()
        for event in events { fresh.apply(event) }
        return fresh
    }
}

private let purchasing = RoomName(cluster: "rural", room: "purchasing")
private let funding = RoomName(cluster: "rural", room: "funding")

private func id(_ text: String) -> ItemID { ItemID(text)! }

struct ItemIDTests {
    @Test(arguments: ["N1", "O12", "P7", "F100", "N999999999999999999"])
    func parsesAndPrints(_ text: String) {
        #expect(ItemID(text)?.description == text)
    }

    @Test(arguments: ["", "N", "N0", "N01", "X1", "n1", "N-1", "N1a", "NN1", "N 1", "N99999999999999999999"])
    func refusesMalformed(_ text: String) {
        #expect(ItemID(text) == nil)
    }
}

struct ItemBookTests {
    @Test func aProposalsWholeLifeFoldsTheSameAfterReplay() throws {
        var cluster = Cluster()
        let alert = ItemDraft(id: id("F1"), room: funding, tags: ["transport"], date: CalendarDate(parsing: "2026-12-20"),
                              text: "Rural transport fund", funder: "County Council", amount: "50000")
        try cluster.must(.create(alert), by: "grants-bot")
        let proposal = ItemDraft(id: id("P1"), room: funding, tags: ["transport"], date: CalendarDate(parsing: "2026-12-15"),
                                 text: "Shared minibus consortium", answers: id("F1"))
        try cluster.must(.create(proposal), by: "lincoln-aid")
        try cluster.must(.back(id("P1"), contribution: "two drivers"), by: "boston-mind")
        try cluster.must(.back(id("P1"), contribution: "garage space"), by: "spalding-hall")
        try cluster.must(.back(id("P1"), contribution: "two drivers and fuel"), by: "boston-mind")
        try cluster.must(.vote(id("P1"), .agree, reason: nil), by: "boston-mind")
        try cluster.must(.vote(id("P1"), .block, reason: "insurance not agreed"), by: "spalding-hall")
        try cluster.must(.vote(id("P1"), .agree, reason: nil), by: "spalding-hall")  // replaces the block
        try cluster.must(.vote(id("P1"), .block, reason: "fuel costs"), by: "lincoln-aid")
        try cluster.must(.reply(id("P1"), text: "Draft budget attached"), by: "boston-mind")
        try cluster.must(.status(id("P1"), .submitted, note: nil), by: "lincoln-aid")
        try cluster.must(.status(id("P1"), .won, note: "funded"), by: "lincoln-aid")

        let item = try #require(cluster.book[id("P1")])
        #expect(item.status == .won)
        #expect(item.author == "lincoln-aid")
        #expect(item.partners == [.init(account: "boston-mind", contribution: "two drivers and fuel"),
                                  .init(account: "spalding-hall", contribution: "garage space")])
        #expect(item.votes.map(\.account) == ["boston-mind", "spalding-hall", "lincoln-aid"])
        #expect(item.tally.map(\.1) == [2, 0, 0, 1])
        #expect(item.votes.last?.reason == "fuel costs")
        #expect(item.replies.map(\.text) == ["Draft budget attached"])
        #expect(cluster.book[id("F1")]?.answeredBy == [id("P1")])
        #expect(cluster.replayed.items == cluster.book.items)
        #expect(cluster.replayed.highestNumber == [.funding: 1, .proposal: 1])
    }

    @Test func backAndVoteNeedAnOpenProposal() throws {
        var cluster = Cluster()
        try cluster.must(.create(ItemDraft(id: id("P1"), room: funding, text: "Bid")), by: "lead")
        try cluster.must(.status(id("P1"), .submitted, note: nil), by: "lead")
        let before = cluster.book.items
        #expect(cluster.run(.back(id("P1"), contribution: "x"), by: "other").failure?.code == .invalidState)
        #expect(cluster.run(.vote(id("P1"), .agree, reason: nil), by: "other").failure?.code == .invalidState)
        #expect(cluster.book.items == before)
    }

    @Test func proposalLifecycle() throws {
        var cluster = Cluster()
        try cluster.must(.create(ItemDraft(id: id("P1"), room: funding, text: "Bid")), by: "lead")
        // open -> won skips submitted; the lead alone (or a facilitator) moves it.
        #expect(cluster.run(.status(id("P1"), .won, note: nil), by: "lead").failure?.code == .invalidState)
        #expect(cluster.run(.status(id("P1"), .open, note: nil), by: "lead").failure?.code == .invalidState)
        #expect(cluster.run(.status(id("P1"), .submitted, note: nil), by: "partner").failure?.code == .forbidden)
        try cluster.must(.status(id("P1"), .submitted, note: nil), by: "facilitator", moderates: true)
        try cluster.must(.status(id("P1"), .lost, note: nil), by: "lead")
        #expect(cluster.run(.status(id("P1"), .open, note: nil), by: "lead").failure?.code == .invalidState)
        #expect(cluster.book[id("P1")]?.status == .lost)
    }

    @Test func resolveIsForTheAuthorOrAFacilitatorAndOnlyOnce() throws {
        var cluster = Cluster()
        try cluster.must(.create(ItemDraft(id: id("N1"), room: purchasing, text: "PPE")), by: "author")
        #expect(cluster.run(.resolve(id("N1"), note: nil), by: "someone").failure?.code == .forbidden)
        try cluster.must(.resolve(id("N1"), note: "found"), by: "author")
        #expect(cluster.run(.resolve(id("N1"), note: nil), by: "author").failure?.code == .invalidState)
        #expect(cluster.book[id("N1")]?.status == .resolved)
    }

    @Test func unknownItemsAndFundingReferences() throws {
        var cluster = Cluster()
        #expect(cluster.run(.back(id("P9"), contribution: "x"), by: "a").failure?.code == .noSuchItem)
        #expect(cluster.run(.create(ItemDraft(id: id("P1"), room: funding, text: "Bid", answers: id("F4"))), by: "a")
            .failure?.code == .noSuchItem)
        #expect(cluster.run(.vote(id("P9"), .block, reason: nil), by: "a").failure?.code == .noSuchItem)
        try cluster.must(.create(ItemDraft(id: id("P2"), room: funding, text: "Bid")), by: "a")
        #expect(cluster.run(.vote(id("P2"), .block, reason: nil), by: "b").failure?.code == .badSyntax)
        #expect(cluster.events.count == 1)
    }

    @Test func aNewNeedMatchesOpenOffersOfOtherOrganisationsInBothRooms() throws {
        var cluster = Cluster()
        let premises = RoomName(cluster: "rural", room: "premises")
        try cluster.must(.create(ItemDraft(id: id("O1"), room: premises, text: "Shared minibus on Tuesdays")), by: "boston-mind")
        try cluster.must(.create(ItemDraft(id: id("O2"), room: purchasing, tags: ["minibus"], text: "Our own minibus")), by: "lincoln-aid")
        let events = try cluster.run(.create(ItemDraft(id: id("N1"), room: purchasing, tags: ["transport", "minibus"],
                                                       text: "Transport for outreach")), by: "lincoln-aid").get()
        // O2 is lincoln-aid's own: no match. O1 matches, stored in both rooms.
        #expect(events.map(\.kind) == ["NEED", "MATCH", "MATCH"])
        #expect(Set(events.dropFirst().map(\.room)) == [purchasing, premises])
        #expect(events[1].fields.map(\.1) == ["N1", "O1", "lincoln-aid", "boston-mind"])
        #expect(events[1].actor == serverActor)
        #expect(cluster.book.matches(involving: "boston-mind").map { "\($0.need.id) \($0.offer.id)" } == ["N1 O1"])
        #expect(cluster.book.matches(involving: "nobody").isEmpty)
        try cluster.must(.resolve(id("O1"), note: nil), by: "boston-mind")
        #expect(cluster.book.matches(involving: "boston-mind").isEmpty)
    }

    @Test func expiryAndRemindersAreDueOnceAndSurviveReplay() throws {
        var cluster = Cluster()
        try cluster.must(.create(ItemDraft(id: id("P1"), room: funding, date: CalendarDate(parsing: "2026-12-10"), text: "Bid")), by: "lead")
        try cluster.must(.create(ItemDraft(id: id("N1"), room: purchasing, date: CalendarDate(parsing: "2026-11-30"), text: "PPE")), by: "a")
        func sweep(at date: String, hour: Int64 = 9) -> [String] {
            cluster.now = CalendarDate(parsing: date)!.startMillis + hour * 3_600_000
            let due = cluster.book.due(nowMillis: cluster.now, reminderDays: [7, 1])
            return cluster.store(due).map { event in
                event.kind + " " + event.fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
            }
        }
        #expect(sweep(at: "2026-11-26") == [])
        #expect(sweep(at: "2026-11-30") == [])  // the need is good through its until date
        #expect(sweep(at: "2026-12-01") == ["STATUS id=N1 status=expired"])
        #expect(sweep(at: "2026-12-03") == ["REMINDER id=P1 days=7 deadline=2026-12-10"])
        #expect(sweep(at: "2026-12-04") == [])
        #expect(cluster.replayed.due(nowMillis: cluster.now, reminderDays: [7, 1]).isEmpty)
        #expect(sweep(at: "2026-12-09") == ["REMINDER id=P1 days=1 deadline=2026-12-10"])
        #expect(sweep(at: "2026-12-11") == ["STATUS id=P1 status=expired"])
        #expect(sweep(at: "2026-12-12") == [])
        #expect(cluster.replayed.items == cluster.book.items)
    }

    @Test func listAndSearch() throws {
        var cluster = Cluster()
        try cluster.must(.create(ItemDraft(id: id("N1"), room: purchasing, tags: ["ppe"], text: "Gloves in bulk")), by: "a")
        try cluster.must(.create(ItemDraft(id: id("N2"), room: purchasing, text: "Printer paper")), by: "a")
        try cluster.must(.resolve(id("N2"), note: nil), by: "a")
        #expect(cluster.book.list(room: purchasing, kind: .need, all: false).map(\.id) == [id("N1")])
        #expect(cluster.book.list(room: purchasing, kind: .need, all: true).map(\.id) == [id("N1"), id("N2")])
        #expect(cluster.book.search(["gloves", "PPE"], kind: nil).map(\.id) == [id("N1")])
        #expect(cluster.book.search(["gloves"], kind: .offer).isEmpty)
        #expect(cluster.book.search(["paper"], kind: .need).map(\.id) == [id("N2")])
    }
}

struct ItemOptionsTests {
    @Test func tags() throws {
        #expect(try ItemOptions.tags("transport,Minibus").get() == ["transport", "minibus"])
        #expect(try ItemOptions.tags(nil).get() == [])
        for bad in ["", ",", "a,,b", "a b", "-x", "tr@nsport", Array(repeating: "t", count: 11).joined(separator: ","),
                    String(repeating: "x", count: 33)] {
            #expect(ItemOptions.tags(bad).failure?.code == .badSyntax, "\(bad)")
        }
    }

    @Test func dates() throws {
        let today = CalendarDate(year: 2026, month: 11, day: 25)!.startMillis + 5
        #expect(try ItemOptions.date("until", "2026-11-25", todayMillis: today).get()?.string == "2026-11-25")
        for bad in ["2026-11-24", "2026-13-01", "2026-02-30", "26-12-01", "2026/12/01", "tomorrow", "2026-12-1"] {
            #expect(ItemOptions.date("until", bad, todayMillis: today).failure?.code == .badSyntax, "\(bad)")
        }
    }

    @Test func ids() {
        #expect(ItemOptions.id("P3", of: [.proposal], for: "BACK").failure == nil)
        #expect(ItemOptions.id("N3", of: [.proposal], for: "BACK").failure?.code == .badSyntax)
        #expect(ItemOptions.id("P03", of: [.proposal], for: "BACK").failure?.code == .badSyntax)
    }
}

struct MatchingTests {
    @Test func anOfferOfASharedMinibusMeetsANeedTaggedMinibus() {
        let need = Matching.Terms(tags: ["transport", "minibus"], text: "Outreach on Tuesdays")
        let offer = Matching.Terms(tags: [], text: "Shared minibus, seats 16")
        #expect(Matching.reason(need, offer) == "shared tags: minibus")
    }

    @Test func oneCommonWordIsNotEnoughWithoutTags() {
        let a = Matching.Terms(tags: [], text: "Support for volunteers")
        let b = Matching.Terms(tags: [], text: "Support with payroll")
        #expect(Matching.reason(a, b) == nil)
        let c = Matching.Terms(tags: [], text: "Bulk gloves and aprons")
        let d = Matching.Terms(tags: [], text: "Spare aprons and gloves")
        #expect(Matching.reason(c, d) == "shared words: apron, glove")
    }

    @Test func wordsAreLowerCasedStemmedAndCommonWordsDropped() {
        #expect(Matching.words(in: "The Vans, for THIS week's outreach!") == ["van", "week", "outreach"])
        #expect(["minibuses", "minibus", "boxes", "glass", "vans", "analysis"].map(Matching.stem)
            == ["minibus", "minibus", "box", "glass", "van", "analysis"])
        #expect(Matching.watches(["minibus"], Matching.Terms(tags: [], text: "Minibus to share")))
        #expect(!Matching.watches(["ppe"], Matching.Terms(tags: ["transport"], text: "Minibus")))
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
