import PartnerlineCore
import PartnerlineProtocol
import Testing

/// Every command x every kind of caller x joined / not joined, against a table written out by hand
/// here (not derived from `Command.access`), so a change to who may do what shows up as a failure.
/// Cluster `rural` (room `rural/general`, items P1 and N1) is the one the commands name; `city`
/// (item P2) is another.
struct PermissionsTests {
    enum Who: String, CaseIterable {
        case anonymous, outsider, member, bot, facilitatorHere, facilitatorElsewhere, admin

        var privileges: Privileges? {
            switch self {
            case .anonymous: nil
            case .outsider, .member: Privileges(role: .member)
            case .bot: Privileges(role: .bot)
            case .facilitatorHere: Privileges(role: .member, facilitates: ["rural"])
            case .facilitatorElsewhere: Privileges(role: .member, facilitates: ["city"])
            case .admin: Privileges(role: .admin)
            }
        }

        /// Clusters the account is a member of (joined a room or approved).
        var memberOf: Set<String> {
            switch self {
            case .member, .bot: ["rural"]
            case .outsider, .facilitatorElsewhere: ["city"]
            case .anonymous, .facilitatorHere, .admin: []
            }
        }
    }

    /// The expected outcome: nil is allowed, otherwise the error code.
    static func expected(_ verb: Verb, _ who: Who, joined: Bool) -> ErrorCode? {
        let sees = [.member, .bot, .facilitatorHere, .admin].contains(who)
        let moderates = [.facilitatorHere, .admin].contains(who)
        switch verb {
        case .help, .ping, .pong, .quit, .register, .login:
            return nil
        default:
            if who == .anonymous { return .authRequired }
        }
        switch verb {
        case .help, .ping, .pong, .quit, .register, .login:
            return nil
        case .clusters, .rooms, .join, .search, .watch, .unwatch, .matches:
            return nil
        case .who, .history, .list, .head, .back, .vote, .reply, .resolve, .status, .show:
            return sees ? nil : .forbidden
        case .part, .say, .mark, .need, .offer, .propose:
            return !sees ? .forbidden : joined ? nil : .notJoined
        case .funding:
            guard sees, who == .bot || moderates else { return .forbidden }
            return joined ? nil : .notJoined
        case .grant, .revoke, .newRoom, .topic, .mute, .unmute, .invite, .policy, .approve, .requests, .deny:
            return moderates ? nil : .forbidden
        }
    }

    /// One command line per verb, naming cluster `rural`.
    static func sample(_ verb: Verb) -> String {
        switch verb {
        case .help: "HELP SAY"
        case .ping: "PING x"
        case .pong: "PONG x"
        case .quit: "QUIT"
        case .register: "REGISTER someone correct-horse-battery"
        case .login: "LOGIN someone correct-horse-battery"
        case .clusters: "CLUSTERS"
        case .rooms: "ROOMS rural"
        case .join: "JOIN rural/general"
        case .part: "PART rural/general"
        case .who: "WHO rural/general"
        case .say: "SAY rural/general hello"
        case .history: "HISTORY rural/general"
        case .mark: "MARK rural/general 0"
        case .head: "HEAD rural"
        case .need: "NEED rural/general Chairs"
        case .offer: "OFFER rural/general Tables"
        case .propose: "PROPOSE rural/general Bid"
        case .back: "BACK P1 Drivers"
        case .vote: "VOTE P1 agree"
        case .reply: "REPLY N1 Hello"
        case .resolve: "RESOLVE N1"
        case .status: "STATUS P1 submitted"
        case .funding: "FUNDING rural/general funder=Trust Grant"
        case .show: "SHOW N1"
        case .list: "LIST rural/general needs"
        case .search: "SEARCH chairs"
        case .watch: "WATCH tags=chairs"
        case .unwatch: "UNWATCH tags=chairs"
        case .matches: "MATCHES"
        case .grant: "GRANT someone facilitator cluster=rural"
        case .revoke: "REVOKE someone facilitator cluster=rural"
        case .newRoom: "NEWROOM rural/new-room"
        case .topic: "TOPIC rural/general Topic"
        case .mute: "MUTE rural/general someone"
        case .unmute: "UNMUTE rural/general someone"
        case .invite: "INVITE rural"
        case .policy: "POLICY rural open"
        case .approve: "APPROVE rural someone"
        case .requests: "REQUESTS rural"
        case .deny: "DENY rural someone"
        }
    }

    struct Facts: AccessFacts {
        var memberOf: Set<String>
        var joined: Bool
        func clusterExists(_ cluster: String) -> Bool { ["rural", "city"].contains(cluster) }
        func roomExists(_ room: RoomName) -> Bool { room.room == "general" }
        func cluster(of item: ItemID) -> String? {
            ["P1": "rural", "N1": "rural", "P2": "city"][item.description]
        }
        func isMember(of cluster: String) -> Bool { memberOf.contains(cluster) }
        func hasJoined(_ room: RoomName) -> Bool { joined }
    }

    static func command(_ line: String) throws -> Command {
        try Command.typed(try CommandParser().parse(Array(line.utf8)).get()).get()
    }

    static func refusal(_ line: String, _ who: Who, joined: Bool = false) throws -> DomainError? {
        let command = try command(line)
        return Permissions.refusal(command.access, verb: command.verb, privileges: who.privileges,
                                   facts: Facts(memberOf: who.memberOf, joined: joined))
    }

    @Test func everyCommandEveryCallerJoinedOrNot() throws {
        var rows = 0
        for verb in Verb.allCases {
            #expect(try Self.command(Self.sample(verb)).verb == verb)
            for who in Who.allCases {
                for joined in [false, true] {
                    let got = try Self.refusal(Self.sample(verb), who, joined: joined)?.code
                    #expect(got == Self.expected(verb, who, joined: joined), "\(verb) \(who) joined=\(joined)")
                    rows += 1
                }
            }
        }
        #expect(rows == Verb.allCases.count * 14)
        #expect(Grammar.v1.verbs == Verb.allCases.map(\.rawValue))
    }

    /// What a command names must exist before anything else is judged, and an item out of sight
    /// answers exactly as one that does not exist.
    @Test func scopeIsCheckedFirstAndItemsCannotBeProbed() throws {
        #expect(try Self.refusal("SAY rural/nowhere hi", .outsider)?.code == .noSuchRoom)
        #expect(try Self.refusal("SAY moon/general hi", .member)?.code == .noSuchCluster)
        #expect(try Self.refusal("HEAD moon", .member)?.code == .noSuchCluster)
        #expect(try Self.refusal("WHO rural/nowhere", .admin)?.code == .noSuchRoom)
        #expect(try Self.refusal("JOIN rural/nowhere", .member)?.code == .noSuchRoom)
        #expect(try Self.refusal("NEWROOM rural/nowhere", .facilitatorHere) == nil)
        #expect(try Self.refusal("SAY rural/nowhere hi", .anonymous)?.code == .authRequired)
        let absent = try Self.refusal("SHOW P9", .member)
        let elsewhere = try Self.refusal("SHOW P2", .member)
        #expect(absent?.code == .forbidden && elsewhere?.code == .forbidden)
        #expect(absent?.message.replacingOccurrences(of: "P9", with: "P2") == elsewhere?.message)
        #expect(try Self.refusal("SHOW P9", .admin)?.code == .noSuchItem)
        #expect(try Self.refusal("SHOW P2", .admin) == nil)
        #expect(try Self.refusal("VOTE P2 block", .facilitatorElsewhere) == nil)
        #expect(try Self.refusal("GRANT someone bot", .facilitatorHere)?.code == .forbidden)
        #expect(try Self.refusal("GRANT someone bot", .admin) == nil)
    }

    @Test func loginReportsFacilitatorForAMemberWhoFacilitates() {
        #expect(Privileges(role: .member, facilitates: ["rural"]).displayRole == .facilitator)
        #expect(Privileges(role: .bot).displayRole == .bot)
        #expect(Privileges(role: .admin).moderates("anything"))
        #expect(!Privileges(role: .member, facilitates: ["rural"]).moderates(nil))
    }

    @Test func roleChangesAreCheckedAndFolded() throws {
        var registry = AccountRegistry()
        for name in ["root-admin", "fac", "member-one"] {
            try registry.apply(.accountRegistered(Account(name: name, organisation: name, role: name == "root-admin" ? .admin : .member,
                                                          passwordHash: "x", createdMillis: 1), invite: nil))
        }
        let clusters: Set = ["rural", "city"]
        let admin = registry.privileges(of: "root-admin")!
        #expect(registry.checkRoleChange(grant: true, account: "fac", role: .facilitator, cluster: "rural", actor: admin,
                                         actorName: "root-admin", knownClusters: clusters) == nil)
        #expect(registry.checkRoleChange(grant: true, account: "fac", role: .facilitator, cluster: nil, actor: admin,
                                         actorName: "root-admin", knownClusters: clusters)?.code == .badSyntax)
        #expect(registry.checkRoleChange(grant: true, account: "fac", role: .facilitator, cluster: "moon", actor: admin,
                                         actorName: "root-admin", knownClusters: clusters)?.code == .noSuchCluster)
        #expect(registry.checkRoleChange(grant: true, account: "ghost", role: .bot, cluster: nil, actor: admin,
                                         actorName: "root-admin", knownClusters: clusters)?.code == .noSuchAccount)
        try registry.apply(.roleGranted(account: "fac", role: .facilitator, cluster: "rural", by: "root-admin", timeMillis: 2))
        let facilitator = registry.privileges(of: "fac")!
        #expect(facilitator.displayRole == .facilitator)
        // A facilitator makes facilitators of their own cluster only, and never bots or admins.
        #expect(registry.checkRoleChange(grant: true, account: "member-one", role: .facilitator, cluster: "rural",
                                         actor: facilitator, actorName: "fac", knownClusters: clusters) == nil)
        #expect(registry.checkRoleChange(grant: true, account: "member-one", role: .facilitator, cluster: "city",
                                         actor: facilitator, actorName: "fac", knownClusters: clusters)?.code == .forbidden)
        #expect(registry.checkRoleChange(grant: true, account: "member-one", role: .bot, cluster: nil,
                                         actor: facilitator, actorName: "fac", knownClusters: clusters)?.code == .forbidden)
        #expect(registry.checkRoleChange(grant: true, account: "fac", role: .facilitator, cluster: "rural", actor: admin,
                                         actorName: "root-admin", knownClusters: clusters)?.code == .invalidState)
        #expect(registry.checkRoleChange(grant: false, account: "root-admin", role: .admin, cluster: nil, actor: admin,
                                         actorName: "root-admin", knownClusters: clusters)?.code == .invalidState)
        try registry.apply(.roleRevoked(account: "fac", role: .facilitator, cluster: "rural", by: "root-admin", timeMillis: 3))
        #expect(registry.privileges(of: "fac") == Privileges(role: .member))
    }

    @Test func roleRecordsRoundTripThroughTheCodec() throws {
        let grant = JournalEntry.roleGranted(account: "fac", role: .facilitator, cluster: "rural", by: "root-admin", timeMillis: 7)
        let bytes = JournalEntryCodec.encode(grant)
        #expect(String(decoding: bytes, as: UTF8.self)
            == #"{"account":"fac","by":"root-admin","cluster":"rural","role":"facilitator","time":7,"type":"grant"}"#)
        guard case .roleGranted(let account, let role, let cluster, let by, let time) = try JournalEntryCodec.decode(bytes) else {
            Issue.record("not a grant")
            return
        }
        #expect([account, role.rawValue, cluster, by] == ["fac", "facilitator", "rural", "root-admin"] && time == 7)
        let revoke = JournalEntry.roleRevoked(account: "b", role: .bot, cluster: nil, by: "a", timeMillis: 8)
        guard case .roleRevoked(_, .bot, nil, _, 8) = try JournalEntryCodec.decode(JournalEntryCodec.encode(revoke)) else {
            Issue.record("not a revoke")
            return
        }
    }
}
