import PartnerlineProtocol

/// The folded state of a journal as bytes (the body of a checkpoint file): a list of named sections,
/// each a length-prefixed block. A cluster's body holds `definition` (the config it was folded
/// under), `cluster` (policy, members, join requests, mutes, room order), one `room <name>` per room
/// (topic, members, read markers, seq counters and the window's EV lines) and `items`; the server
/// adds its own sections (the history index). An account journal's body holds `accounts`.
///
/// One state has one encoding (sets and dictionaries are written sorted, a window's lines whether
/// or not they were encoded yet), so two states are equal exactly when their sections' bytes are:
/// `verify` compares a snapshot with a full replay section by section and names the first that differs.
/// Pure; no I/O.
public struct StateSnapshot: Sendable {
    public struct Section: Sendable, Equatable {
        public var name: String
        public var bytes: [UInt8]

        public init(name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
        }
    }

    public var sections: [Section]

    public init(sections: [Section] = []) {
        self.sections = sections
    }

    public func section(_ name: String) -> Section? { sections.first { $0.name == name } }

    public mutating func add(_ name: String, _ body: (inout SnapshotWriter) -> Void) {
        var writer = SnapshotWriter(capacity: 256)
        body(&writer)
        sections.append(Section(name: name, bytes: writer.bytes))
    }

    public func encoded() -> [UInt8] {
        var writer = SnapshotWriter(capacity: sections.reduce(16) { $0 + $1.bytes.count + $1.name.utf8.count + 12 })
        writer.int(sections.count)
        for section in sections {
            writer.string(section.name)
            writer.data(section.bytes)
        }
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(SnapshotDecodingError) {
        var reader = SnapshotReader(bytes)
        let count = try reader.count()
        sections = []
        sections.reserveCapacity(count)
        for _ in 0..<count {
            let name = try reader.string()
            sections.append(Section(name: name, bytes: try reader.data()))
        }
        guard reader.isAtEnd else { throw SnapshotDecodingError("bytes left after the last section") }
    }

    /// The first difference from `other`, in words, or nil when every section is byte-identical.
    public func firstDifference(from other: StateSnapshot) -> String? {
        let theirs = Dictionary(other.sections.map { ($0.name, $0.bytes) }, uniquingKeysWith: { first, _ in first })
        for section in sections {
            guard let bytes = theirs[section.name] else { return "section '\(section.name)' is missing from the replay" }
            if bytes != section.bytes { return "section '\(section.name)' differs (\(section.bytes.count) bytes against \(bytes.count))" }
        }
        let mine = Set(sections.map(\.name))
        if let extra = other.sections.first(where: { !mine.contains($0.name) }) {
            return "section '\(extra.name)' of the replay is missing from the snapshot"
        }
        return nil
    }

    static func reader(_ section: Section?, _ name: String) throws(SnapshotDecodingError) -> SnapshotReader {
        guard let section else { throw SnapshotDecodingError("no section '\(name)'") }
        return SnapshotReader(section.bytes)
    }
}

// MARK: Cluster state

extension StateSnapshot {
    /// The sections of a cluster's state, folded under `definition` with `state.historyWindow`.
    public init(cluster state: ClusterState, definition: ClusterDefinition) {
        self.init()
        add("definition") { w in
            w.string(definition.name)
            w.string(definition.description)
            w.int(definition.rooms.count)
            for room in definition.rooms {
                w.string(room.name)
                w.string(room.topic)
            }
            w.int(state.historyWindow)
        }
        add("cluster") { w in
            w.string(state.name)
            w.string(state.description)
            w.string(state.membershipPolicy.rawValue)
            w.strings(sorted: state.clusterMembers)
            let requests = state.joinRequests.sorted { $0.key < $1.key }
            w.int(requests.count)
            for (account, time) in requests {
                w.string(account)
                w.signed(time)
            }
            let muted = state.muted.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
            w.int(muted.count)
            for (room, accounts) in muted {
                w.string(room)
                w.strings(sorted: accounts)
            }
            w.int(state.roomOrder.count)
            for room in state.roomOrder { w.string(room) }
        }
        for name in state.roomOrder {
            guard let room = state.rooms[name] else { continue }
            add("room \(name)") { w in Self.encode(room, into: &w) }
        }
        add("items") { w in Self.encode(state.items, into: &w) }
    }

    /// The definition and window a cluster snapshot was folded under (to compare with the config).
    public func clusterDefinition() throws(SnapshotDecodingError) -> (definition: ClusterDefinition, historyWindow: Int) {
        var r = try Self.reader(section("definition"), "definition")
        let name = try r.string()
        let description = try r.string()
        let count = try r.count()
        var rooms: [ClusterDefinition.Room] = []
        for _ in 0..<count { rooms.append(ClusterDefinition.Room(name: try r.string(), topic: try r.string())) }
        let window = try r.int()
        guard window >= 1 else { throw SnapshotDecodingError("history window \(window)") }
        return (ClusterDefinition(name: name, description: description, rooms: rooms), window)
    }

    /// The cluster state the sections hold.
    public func clusterState() throws(SnapshotDecodingError) -> ClusterState {
        let (definition, window) = try clusterDefinition()
        var state = ClusterState(definition: definition, historyWindow: window)
        var r = try Self.reader(section("cluster"), "cluster")
        guard try r.string() == definition.name else { throw SnapshotDecodingError("cluster name differs from its definition") }
        state.description = try r.string()
        let policy = try r.string()
        guard let membershipPolicy = MembershipPolicy(rawValue: policy) else { throw SnapshotDecodingError("membership policy \(policy)") }
        state.membershipPolicy = membershipPolicy
        state.clusterMembers = Set(try r.strings())
        let requests = try r.count()
        var joinRequests: [String: Int64] = [:]
        for _ in 0..<requests { joinRequests[try r.string()] = try r.signed() }
        state.joinRequests = joinRequests
        let mutedRooms = try r.count()
        var muted: [String: Set<String>] = [:]
        for _ in 0..<mutedRooms { muted[try r.string()] = Set(try r.strings()) }
        state.muted = muted
        let roomCount = try r.count()
        var order: [String] = []
        var rooms: [String: RoomState] = [:]
        for _ in 0..<roomCount {
            let room = try r.string()
            var reader = try Self.reader(section("room \(room)"), "room \(room)")
            rooms[room] = try Self.decodeRoom(RoomName(cluster: definition.name, room: room), window: window, from: &reader)
            order.append(room)
        }
        state.roomOrder = order
        state.rooms = rooms
        var items = try Self.reader(section("items"), "items")
        state.items = try Self.decodeItems(&items, cluster: definition.name)
        return state
    }

    static func encode(_ room: RoomState, into w: inout SnapshotWriter) {
        w.string(room.topic)
        w.strings(sorted: room.members)
        let markers = room.readMarkers.sorted { $0.key < $1.key }
        w.int(markers.count)
        for (account, seq) in markers {
            w.string(account)
            w.varint(seq)
        }
        w.varint(room.windowFirstSeq)
        w.varint(room.lastSeq)
        w.signed(room.lastTimeMillis)
        w.int(room.lines.count + room.deferred.count)
        for line in room.lines { w.data(line) }
        for event in room.deferred { w.data(event.encodedLine()) }
    }

    static func decodeRoom(_ name: RoomName, window: Int, from r: inout SnapshotReader) throws(SnapshotDecodingError) -> RoomState {
        var room = RoomState(name: name, topic: try r.string(), historyWindow: window)
        room.members = Set(try r.strings())
        let markers = try r.count()
        var readMarkers: [String: UInt64] = [:]
        readMarkers.reserveCapacity(markers)
        for _ in 0..<markers { readMarkers[try r.string()] = try r.varint() }
        room.readMarkers = readMarkers
        room.windowFirstSeq = try r.varint()
        room.lastSeq = try r.varint()
        room.lastTimeMillis = try r.signed()
        let lineCount = try r.count()
        guard room.windowFirstSeq >= 1, room.lastSeq + 1 >= room.windowFirstSeq,
              UInt64(lineCount) == room.lastSeq + 1 - room.windowFirstSeq else {
            throw SnapshotDecodingError("room \(name): \(lineCount) lines do not span seq \(room.windowFirstSeq)...\(room.lastSeq)")
        }
        var lines: [[UInt8]] = []
        lines.reserveCapacity(lineCount)
        for _ in 0..<lineCount { lines.append(try r.data()) }
        room.lines = lines
        return room
    }

    static func encode(_ book: ItemBook, into w: inout SnapshotWriter) {
        let items = book.items.values.sorted { $0.id < $1.id }
        w.int(items.count)
        for item in items {
            w.string(item.id.description)
            w.string(item.room.room)
            w.string(item.author)
            w.signed(item.createdMillis)
            w.string(item.status.rawValue)
            w.int(item.tags.count)
            for tag in item.tags { w.string(tag) }
            w.optionalString(item.date?.string)
            w.string(item.text)
            w.optionalString(item.funder)
            w.optionalString(item.amount)
            w.optionalString(item.url)
            w.optionalString(item.ref)
            w.varint(item.seq)
            w.optionalString(item.answers?.description)
            w.int(item.answeredBy.count)
            for id in item.answeredBy { w.string(id.description) }
            w.int(item.partners.count)
            for partner in item.partners {
                w.string(partner.account)
                w.string(partner.contribution)
            }
            w.int(item.votes.count)
            for vote in item.votes {
                w.string(vote.account)
                w.string(vote.choice.rawValue)
                w.optionalString(vote.reason)
            }
            w.int(item.replies.count)
            for reply in item.replies {
                w.string(reply.account)
                w.signed(reply.timeMillis)
                w.string(reply.text)
            }
            let reminders = item.remindersSent.sorted()
            w.int(reminders.count)
            for days in reminders { w.int(days) }
        }
        let highest = book.highestNumber.sorted { $0.key.rawValue < $1.key.rawValue }
        w.int(highest.count)
        for (kind, number) in highest {
            w.string(kind.rawValue)
            w.varint(number)
        }
        let refs = book.fundingRefs.sorted { $0.key < $1.key }
        w.int(refs.count)
        for (ref, id) in refs {
            w.string(ref)
            w.string(id.description)
        }
    }

    static func decodeItems(_ r: inout SnapshotReader, cluster: String) throws(SnapshotDecodingError) -> ItemBook {
        func id(_ text: String) throws(SnapshotDecodingError) -> ItemID {
            guard let id = ItemID(text) else { throw SnapshotDecodingError("item id \(text)") }
            return id
        }
        var book = ItemBook()
        let count = try r.count()
        var items: [ItemID: Item] = [:]
        items.reserveCapacity(count)
        for _ in 0..<count {
            let itemID = try id(try r.string())
            let room = RoomName(cluster: cluster, room: try r.string())
            let author = try r.string()
            let created = try r.signed()
            let statusText = try r.string()
            guard let status = ItemStatus(rawValue: statusText) else { throw SnapshotDecodingError("item status \(statusText)") }
            let tagCount = try r.count()
            var tags: [String] = []
            for _ in 0..<tagCount { tags.append(try r.string()) }
            let date = try r.optionalString().flatMap { CalendarDate(parsing: $0) }
            var item = Item(id: itemID, room: room, author: author, createdMillis: created, status: status, tags: tags,
                            date: date, text: try r.string())
            item.funder = try r.optionalString()
            item.amount = try r.optionalString()
            item.url = try r.optionalString()
            item.ref = try r.optionalString()
            item.seq = try r.varint()
            if let answers = try r.optionalString() { item.answers = try id(answers) }
            let answeredBy = try r.count()
            for _ in 0..<answeredBy { item.answeredBy.append(try id(try r.string())) }
            let partners = try r.count()
            for _ in 0..<partners { item.partners.append(Item.Partner(account: try r.string(), contribution: try r.string())) }
            let votes = try r.count()
            for _ in 0..<votes {
                let account = try r.string()
                let choiceText = try r.string()
                guard let choice = VoteChoice(rawValue: choiceText) else { throw SnapshotDecodingError("vote \(choiceText)") }
                item.votes.append(Item.Ballot(account: account, choice: choice, reason: try r.optionalString()))
            }
            let replies = try r.count()
            for _ in 0..<replies {
                item.replies.append(Item.Reply(account: try r.string(), timeMillis: try r.signed(), text: try r.string()))
            }
            let reminders = try r.count()
            for _ in 0..<reminders { item.remindersSent.insert(try r.int()) }
            items[itemID] = item
        }
        book.items = items
        let highest = try r.count()
        for _ in 0..<highest {
            let kindText = try r.string()
            guard let kind = ItemKind(rawValue: kindText) else { throw SnapshotDecodingError("item kind \(kindText)") }
            book.highestNumber[kind] = try r.varint()
        }
        let refs = try r.count()
        for _ in 0..<refs { book.fundingRefs[try r.string()] = try id(try r.string()) }
        return book
    }
}

// MARK: Accounts

extension StateSnapshot {
    public init(accounts registry: AccountRegistry) {
        self.init()
        add("accounts") { w in
            let accounts = registry.accounts.values.sorted { $0.name < $1.name }
            w.int(accounts.count)
            for account in accounts {
                w.string(account.name)
                w.string(account.organisation)
                w.string(account.role.rawValue)
                w.string(account.passwordHash)
                w.signed(account.createdMillis)
            }
            w.strings(sorted: registry.usedInvites)
            let facilitators = registry.facilitators.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
            w.int(facilitators.count)
            for (account, clusters) in facilitators {
                w.string(account)
                w.strings(sorted: clusters)
            }
            let invites = registry.createdInvites.sorted { $0.key < $1.key }
            w.int(invites.count)
            for (code, cluster) in invites {
                w.string(code)
                w.optionalString(cluster)
            }
            let invited = registry.invitedTo.sorted { $0.key < $1.key }
            w.int(invited.count)
            for (account, cluster) in invited {
                w.string(account)
                w.string(cluster)
            }
        }
    }

    public func accountRegistry() throws(SnapshotDecodingError) -> AccountRegistry {
        var r = try Self.reader(section("accounts"), "accounts")
        var registry = AccountRegistry()
        let count = try r.count()
        for _ in 0..<count {
            let name = try r.string()
            let organisation = try r.string()
            let roleText = try r.string()
            guard let role = Role(rawValue: roleText) else { throw SnapshotDecodingError("role \(roleText)") }
            registry.accounts[name] = Account(name: name, organisation: organisation, role: role,
                                              passwordHash: try r.string(), createdMillis: try r.signed())
        }
        registry.usedInvites = Set(try r.strings())
        let facilitators = try r.count()
        for _ in 0..<facilitators { registry.facilitators[try r.string()] = Set(try r.strings()) }
        let invites = try r.count()
        for _ in 0..<invites {
            let code = try r.string()
            registry.createdInvites[code] = .some(try r.optionalString())
        }
        let invited = try r.count()
        for _ in 0..<invited { registry.invitedTo[try r.string()] = try r.string() }
        return registry
    }
}
