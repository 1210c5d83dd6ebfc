import PartnerlineCore
import PartnerlineProtocol
import Testing

/// A small deterministic generator, so a failing seed can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random but valid journals of a cluster: every kind of record, item events of every kind, room
/// changes, read markers and requests, with seqs in order per room.
struct RandomClusterJournal {
    static let definition = ClusterDefinition(name: "rural", description: "Rural", rooms: [
        .init(name: "general", topic: "Hello"), .init(name: "funding", topic: "Money"),
    ])
    static let accounts = ["boston-mind", "lincoln-aid", "york-carers", "hull-food", "leeds-hub"]

    var rng: SplitMix
    var seqs: [String: UInt64] = [:]
    var rooms = ["general", "funding"]
    var itemNumbers: [ItemKind: UInt64] = [:]
    var time: Int64 = 1_700_000_000_000

    init(seed: UInt64) { rng = SplitMix(state: seed) }

    mutating func pick<T>(_ values: [T]) -> T { values[Int(rng.next() % UInt64(values.count))] }

    mutating func event(_ room: String, _ actor: String, _ kind: String, _ fields: [(String, String)], _ text: String?) -> JournalEntry {
        let seq = (seqs[room] ?? 0) + 1
        seqs[room] = seq
        time += Int64(rng.next() % 5000)
        return .event(StoredEvent(room: RoomName(cluster: "rural", room: room), seq: seq, timeMillis: time, actor: actor,
                                  kind: kind, fields: fields, text: text))
    }

    mutating func existingItem() -> ItemID? {
        let kinds = itemNumbers.filter { $0.value > 0 }.map(\.key).sorted { $0.rawValue < $1.rawValue }
        guard !kinds.isEmpty else { return nil }
        let kind = pick(kinds)
        return ItemID(kind: kind, number: 1 + rng.next() % itemNumbers[kind]!)
    }

    mutating func next() -> JournalEntry {
        let actor = pick(Self.accounts)
        let room = pick(rooms)
        let name = RoomName(cluster: "rural", room: room)
        time += 1
        switch rng.next() % 20 {
        case 0: return .memberJoined(room: name, account: actor, timeMillis: time)
        case 1: return .memberLeft(room: name, account: actor, timeMillis: time)
        case 2: return .readMarker(room: name, account: actor, seq: max(1, seqs[room] ?? 1), timeMillis: time)
        case 3: return .membershipPolicy(cluster: "rural", policy: pick(MembershipPolicy.allCases), by: actor, timeMillis: time)
        case 4: return .joinRequested(cluster: "rural", account: actor, timeMillis: time)
        case 5: return pick([true, false]) ? .memberApproved(cluster: "rural", account: actor, by: "fac", timeMillis: time)
                                           : .requestDenied(cluster: "rural", account: actor, by: "fac", timeMillis: time)
        case 6:
            if rng.next() % 4 == 0 {
                let new = "room\(rooms.count)"
                rooms.append(new)
                return event(new, actor, RoomChange.created, [], "new room \(new)")
            }
            return event(room, actor, RoomChange.topic, [], "topic \(rng.next() % 100)")
        case 7: return event(room, "fac", pick([RoomChange.muted, RoomChange.unmuted]), [("account", actor)], nil)
        case 8, 9:
            let kind = pick(ItemKind.allCases)
            let number = (itemNumbers[kind] ?? 0) + 1
            itemNumbers[kind] = number
            var fields: [(String, String)] = [("id", "\(kind.prefix)\(number)"), ("tags", "food,vans")]
            if rng.next() % 2 == 0 { fields.append((kind.dateKey, "2027-0\(1 + rng.next() % 9)-1\(rng.next() % 9)")) }
            if kind == .funding {
                fields += [("funder", "Trust"), ("amount", "£5k"), ("url", "https://example.org"), ("ref", "ref-\(rng.next() % 6)")]
            }
            if kind == .proposal, let funding = itemNumbers[.funding], funding > 0 {
                fields.append(("funding", "F\(1 + rng.next() % funding)"))
            }
            return event(room, actor, kind.creatingEvent, fields, "item text \(number)")
        case 10, 11:
            guard let id = existingItem() else { return event(room, actor, "SAY", [], "hello") }
            switch rng.next() % 5 {
            case 0: return event(room, actor, "BACK", [("id", id.description)], "vans")
            case 1: return event(room, actor, "VOTE", [("id", id.description), ("vote", pick(VoteChoice.allCases).rawValue)],
                                 pick([nil, "because"]))
            case 2: return event(room, actor, "REPLY", [("id", id.description)], "a reply")
            case 3: return event(room, actor, "STATUS", [("id", id.description), ("status", pick(ItemStatus.allCases).rawValue)], nil)
            default: return event(room, "*server", "REMINDER", [("id", id.description), ("days", pick(["1", "7", "14"]))], "soon")
            }
        default:
            return event(room, actor, "SAY", [], "message \(rng.next() % 1000)")
        }
    }
}

struct StateSnapshotTests {
    static func fold(_ entries: [JournalEntry], window: Int) throws -> ClusterState {
        var state = ClusterState(definition: RandomClusterJournal.definition, historyWindow: window)
        for entry in entries { try state.apply(entry) }
        return state
    }

    static func encoded(_ state: ClusterState) -> [UInt8] {
        StateSnapshot(cluster: state, definition: RandomClusterJournal.definition).encoded()
    }

    /// A state folded from random entries, and the same state decoded from its snapshot, are equal:
    /// field by field, and in their encodings; and folding more entries onto the decoded one ends
    /// where folding them all at once does (start = checkpoint + tail).
    @Test(arguments: [1 as UInt64, 2, 3, 4, 5, 6, 7, 8])
    func stateDecodedFromItsSnapshotEqualsTheFoldedState(seed: UInt64) throws {
        var journal = RandomClusterJournal(seed: seed)
        let entries = (0..<1500).map { _ in journal.next() }
        let window = Int(3 + seed % 5)
        for cut in [0, 1, 700, 1499, 1500] {
            let head = try Self.fold(Array(entries[0..<cut]), window: window)
            let decoded = try StateSnapshot(decoding: Self.encoded(head)).clusterState()
            Self.expectEqual(decoded, head)
            #expect(Self.encoded(decoded) == Self.encoded(head))

            var continued = decoded
            for entry in entries[cut...] { try continued.apply(entry) }
            let whole = try Self.fold(entries, window: window)
            Self.expectEqual(continued, whole)
            #expect(Self.encoded(continued) == Self.encoded(whole), "seed \(seed), checkpoint after \(cut) entries")
        }
    }

    static func expectEqual(_ a: ClusterState, _ b: ClusterState) {
        #expect(a.name == b.name && a.description == b.description && a.historyWindow == b.historyWindow)
        #expect(a.roomOrder == b.roomOrder)
        #expect(a.membershipPolicy == b.membershipPolicy)
        #expect(a.clusterMembers == b.clusterMembers)
        #expect(a.joinRequests == b.joinRequests)
        #expect(a.muted.filter { !$0.value.isEmpty } == b.muted.filter { !$0.value.isEmpty })
        #expect(a.items.items == b.items.items)
        #expect(a.items.highestNumber == b.items.highestNumber)
        #expect(a.items.fundingRefs == b.items.fundingRefs)
        for name in b.roomOrder {
            guard let x = a.rooms[name], let y = b.rooms[name] else {
                Issue.record("room \(name) missing")
                continue
            }
            #expect(x.topic == y.topic)
            #expect(x.members == y.members)
            #expect(x.readMarkers == y.readMarkers)
            #expect(x.lastSeq == y.lastSeq && x.lastTimeMillis == y.lastTimeMillis && x.windowFirstSeq == y.windowFirstSeq)
            #expect(x.linesInMemory == y.linesInMemory)
            if y.lastSeq >= y.windowFirstSeq {
                #expect(x.lines(in: y.windowFirstSeq...y.lastSeq) == y.lines(in: y.windowFirstSeq...y.lastSeq))
            }
        }
    }

    @Test func accountRegistryRoundTrips() throws {
        var registry = AccountRegistry()
        try registry.apply(.inviteCreated(code: "code-a", cluster: "rural", by: "fac", timeMillis: 1))
        try registry.apply(.inviteCreated(code: "code-b", cluster: nil, by: "admin", timeMillis: 1))
        for (index, name) in RandomClusterJournal.accounts.enumerated() {
            try registry.apply(.accountRegistered(Account(name: name, organisation: "Org \(index) ü", role: .member,
                                                          passwordHash: "$scrypt$\(index)", createdMillis: Int64(index)),
                                                  invite: index == 1 ? "code-a" : nil))
        }
        try registry.apply(.roleGranted(account: "boston-mind", role: .facilitator, cluster: "rural", by: "admin", timeMillis: 2))
        try registry.apply(.roleGranted(account: "york-carers", role: .admin, cluster: nil, by: "admin", timeMillis: 2))
        try registry.apply(.roleGranted(account: "hull-food", role: .facilitator, cluster: "rural", by: "admin", timeMillis: 2))
        try registry.apply(.roleRevoked(account: "hull-food", role: .facilitator, cluster: "rural", by: "admin", timeMillis: 3))
        let bytes = StateSnapshot(accounts: registry).encoded()
        let decoded = try StateSnapshot(decoding: bytes).accountRegistry()
        #expect(decoded.accounts == registry.accounts)
        #expect(decoded.usedInvites == registry.usedInvites)
        #expect(decoded.invitedTo == registry.invitedTo)
        #expect(decoded.createdInvites == registry.createdInvites)
        for name in RandomClusterJournal.accounts { #expect(decoded.privileges(of: name) == registry.privileges(of: name)) }
        #expect(StateSnapshot(accounts: decoded).encoded() == bytes)
    }

    /// Cut or damaged bytes are a decoding error, never a crash or a wrong state that decodes.
    @Test func truncatedBytesAreRefused() throws {
        var journal = RandomClusterJournal(seed: 42)
        let state = try Self.fold((0..<300).map { _ in journal.next() }, window: 10)
        let bytes = Self.encoded(state)
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
            #expect(throws: SnapshotDecodingError.self) { try StateSnapshot(decoding: Array(bytes[0..<length])).clusterState() }
        }
    }

    /// `verify` names the first section that differs.
    @Test func firstDifferenceNamesTheSection() throws {
        var journal = RandomClusterJournal(seed: 9)
        let entries = (0..<200).map { _ in journal.next() }
        let a = StateSnapshot(cluster: try Self.fold(entries, window: 5), definition: RandomClusterJournal.definition)
        #expect(a.firstDifference(from: a) == nil)
        var more = try Self.fold(entries, window: 5)
        try more.apply(.memberJoined(room: RoomName(cluster: "rural", room: "funding"), account: "new-member", timeMillis: 1))
        let b = StateSnapshot(cluster: more, definition: RandomClusterJournal.definition)
        let difference = try #require(a.firstDifference(from: b))
        #expect(difference.contains("'cluster'"))
    }
}
