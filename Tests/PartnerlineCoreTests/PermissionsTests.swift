import PartnerlineCore
import PartnerlineProtocol
import Testing

/// Every command x every role x joined / not joined, against a table written out by hand here
/// (not derived from `Permissions.table`), so a change to who may do what shows up as a failure.
struct PermissionsTests {
    enum Who: String, CaseIterable {
        case anonymous, member, bot, facilitatorHere, facilitatorElsewhere, admin

        var privileges: Privileges? {
            switch self {
            case .anonymous: nil
            case .member: Privileges(role: .member)
            case .bot: Privileges(role: .bot)
            case .facilitatorHere: Privileges(role: .member, facilitates: ["rural"])
            case .facilitatorElsewhere: Privileges(role: .member, facilitates: ["city"])
            case .admin: Privileges(role: .admin)
            }
        }
    }

    /// The expected outcome: nil is allowed, otherwise the error code.
    static func expected(_ verb: String, _ who: Who, joined: Bool) -> ErrorCode? {
        let anyone: Set = ["HELP", "PING", "PONG", "QUIT", "REGISTER", "LOGIN"]
        let loggedIn: Set = ["CLUSTERS", "ROOMS", "JOIN", "PART", "WHO", "HEAD", "BACK", "VOTE", "REPLY", "RESOLVE", "STATUS",
                             "SHOW", "LIST", "SEARCH", "WATCH", "UNWATCH", "MATCHES"]
        let joinedRoom: Set = ["SAY", "HISTORY", "MARK", "NEED", "OFFER", "PROPOSE"]
        if anyone.contains(verb) { return nil }
        if who == .anonymous { return .authRequired }
        if loggedIn.contains(verb) { return nil }
        if joinedRoom.contains(verb) { return joined ? nil : .notJoined }
        switch verb {
        case "FUNDING":
            guard [.bot, .facilitatorHere, .admin].contains(who) else { return .forbidden }
            return joined ? nil : .notJoined
        case "GRANT", "REVOKE", "NEWROOM", "TOPIC", "MUTE", "UNMUTE", "INVITE", "POLICY", "APPROVE":
            return [.facilitatorHere, .admin].contains(who) ? nil : .forbidden
        default:
            Issue.record("no expectation for \(verb)")
            return .internal
        }
    }

    /// One command line per verb, naming cluster `rural` (its room `rural/general`).
    static func sample(_ verb: Verb) -> String {
        switch verb {
        case .help: "HELP SAY"
        case .ping: "PING x"
        case .pong: "PONG x"
        case .quit: "QUIT"
        case .register: "REGISTER someone correct-horse-battery"
        case .login: "LOGIN someone correct-horse-battery"
        case .clusters: "CLUSTERS"
        case .rooms: "ROOMS"
        case .join: "JOIN rural/general"
        case .part: "PART rural/general"
        case .who: "WHO rural/general"
        case .say: "SAY rural/general hello"
        case .history: "HISTORY rural/general"
        case .mark: "MARK rural/general 1"
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
        }
    }

    struct Facts: AccessFacts {
        var joined: Bool
        func clusterExists(_ cluster: String) -> Bool { ["rural", "city"].contains(cluster) }
        func hasJoined(_ room: RoomName) -> Bool { joined }
    }

    @Test func everyCommandEveryRoleJoinedOrNot() throws {
        var rows = 0
        for verb in Verb.allCases {
            let parsed = try CommandParser().parse(Array(Self.sample(verb).utf8)).get()
            let command = try Command.typed(parsed).get()
            #expect(command.verb == verb)
            for who in Who.allCases {
                for joined in [false, true] {
                    let got = Permissions.refusal(command.access, verb: verb, privileges: who.privileges,
                                                  facts: Facts(joined: joined))?.code
                    #expect(got == Self.expected(verb.rawValue, who, joined: joined), "\(verb) \(who) joined=\(joined)")
                    rows += 1
                }
            }
        }
        #expect(rows == Verb.allCases.count * 12)
        #expect(Grammar.v1.verbs == Verb.allCases.map(\.rawValue))
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
