import PartnerlineProtocol

/// One client command, typed: the verb with its arguments already read into the values the server
/// works with (a `RoomName`, an `ItemID`, a vote, a role ...). `Command.typed(_:)` makes one from the
/// grammar's `ParsedCommand`; a value that cannot be read (`SAY nowhere hi`, `VOTE P1 maybe`) is a
/// BAD_SYNTAX there, before any state is looked at, so it never depends on who asks.
///
/// Every command carries its access rule (`access`: the scope it names and what the caller must be
/// there) and whether it pipelines (`pipelines`). Both are exhaustive switches, as is the server's
/// dispatcher (`Session.execute`), so a verb cannot be served without a rule.
///
/// ## Adding a verb
/// 1. Add its case to `Verb` (PartnerlineProtocol/Verb.swift) and its row to `Verb.syntax`: the
///    grammar drives parsing, the usage line and HELP.
/// 2. Add its case here, with typed associated values, and read it in `typed(_:)` (the compiler
///    points there: that switch over `Verb` has no `default`).
/// 3. Give it its rule in `access` and say in `Verb.pipelines` whether it pipelines (only a
///    plain post that goes through `Session.post` may). Both switches refuse to compile without it.
/// 4. Handle it in `Session.execute` (PartnerlineServer/Session+Commands.swift), whose one switch
///    over `Command` also refuses to compile until it does.
/// 5. Give it its row and probe in the permission matrix test (Tests/PartnerlineServerTests/PermissionMatrixTests.swift,
///    switches over `Verb`: the test target does not compile without them). The DocC article
///    "Commands" (PartnerlineServer.docc/Commands.md) says more.
public enum Command: Sendable, Equatable {
    // Anyone, before LOGIN too.
    case help(verb: String?)
    case ping(token: String?)
    /// The answer to a server PING: no reply.
    case pong
    case quit(message: String?)
    case register(account: String, password: String, invite: String?, organisation: String?)
    case login(account: String, password: String)
    // Logged in.
    case clusters
    case rooms(cluster: String?)
    case join(RoomName)
    case part(RoomName)
    case who(RoomName)
    case say(RoomName, text: String)
    case history(RoomName, after: UInt64?, before: UInt64?, limit: UInt64?)
    /// 1.1: move the account's read marker in the room forward to `seq`.
    case mark(RoomName, seq: UInt64)
    case head(cluster: String)
    // Items.
    case need(RoomName, ItemPost)
    case offer(RoomName, ItemPost)
    case propose(RoomName, ItemPost)
    case funding(RoomName, ItemPost)
    case back(ItemID, contribution: String)
    case vote(ItemID, VoteChoice, reason: String?)
    case reply(ItemID, text: String)
    case resolve(ItemID, note: String?)
    case status(ItemID, ItemStatus, note: String?)
    case show(ItemID)
    case list(RoomName, ItemKind, all: Bool)
    case search(kind: ItemKind?, words: [String])
    case watch(tags: [String])
    case unwatch(tags: [String])
    case matches
    // Roles and moderation.
    case grant(account: String, Role, cluster: String?)
    case revoke(account: String, Role, cluster: String?)
    case newRoom(RoomName, topic: String)
    case topic(RoomName, topic: String)
    case mute(RoomName, account: String, reason: String?)
    case unmute(RoomName, account: String)
    case invite(cluster: String)
    case policy(cluster: String, MembershipPolicy)
    case approve(cluster: String, account: String)
    case requests(cluster: String)
    case deny(cluster: String, account: String)

    /// The verb, for replies (`OK <VERB>`, `ERR <CODE> <VERB>`).
    public var verb: Verb {
        switch self {
        case .help: .help
        case .ping: .ping
        case .pong: .pong
        case .quit: .quit
        case .register: .register
        case .login: .login
        case .clusters: .clusters
        case .rooms: .rooms
        case .join: .join
        case .part: .part
        case .who: .who
        case .say: .say
        case .history: .history
        case .mark: .mark
        case .head: .head
        case .need: .need
        case .offer: .offer
        case .propose: .propose
        case .funding: .funding
        case .back: .back
        case .vote: .vote
        case .reply: .reply
        case .resolve: .resolve
        case .status: .status
        case .show: .show
        case .list: .list
        case .search: .search
        case .watch: .watch
        case .unwatch: .unwatch
        case .matches: .matches
        case .grant: .grant
        case .revoke: .revoke
        case .newRoom: .newRoom
        case .topic: .topic
        case .mute: .mute
        case .unmute: .unmute
        case .invite: .invite
        case .policy: .policy
        case .approve: .approve
        case .requests: .requests
        case .deny: .deny
        }
    }

    /// Who may run this command, on what: checked by `Permissions.refusal` before it runs.
    public var access: AccessRule {
        switch self {
        case .help, .ping, .pong, .quit, .register, .login:
            .anyone
        // Enough to choose where to join; SEARCH, MATCHES and WATCH show only the caller's clusters.
        case .clusters, .search, .watch, .unwatch, .matches:
            .loggedIn
        case .rooms(let cluster):
            cluster.map { AccessRule(.cluster($0), .login) } ?? .loggedIn
        // Judged by the cluster's membership policy (open, approval, closed) when it runs.
        case .join(let room):
            AccessRule(.room(room), .login)
        // A cluster's content: its members (and its facilitators, and admins).
        case .who(let room), .history(let room, _, _, _), .list(let room, _, _):
            AccessRule(.room(room), .clusterMember)
        case .head(let cluster):
            AccessRule(.cluster(cluster), .clusterMember)
        // On an item: BACK, VOTE, REPLY, SHOW by any member; RESOLVE and STATUS also ask the item
        // (its author or lead, or a facilitator) when they run.
        case .back(let id, _), .vote(let id, _, _), .reply(let id, _), .resolve(let id, _), .status(let id, _, _),
             .show(let id):
            AccessRule(.item(id), .clusterMember)
        // Posting, leaving and read markers (MARK): the room itself.
        case .part(let room), .say(let room, _), .mark(let room, _),
             .need(let room, _), .offer(let room, _), .propose(let room, _):
            AccessRule(.room(room), .roomMember)
        case .funding(let room, _):
            AccessRule(.room(room), .botOrModeratorInRoom)
        // Roles: a facilitator makes facilitators of their cluster; bots and admins are the admins' to give.
        case .grant(_, _, let cluster), .revoke(_, _, let cluster):
            cluster.map { AccessRule(.cluster($0), .moderator) } ?? AccessRule(.none, .admin)
        // Moderation. A new room does not exist yet: its cluster is the scope.
        case .newRoom(let room, _):
            AccessRule(.cluster(room.cluster), .moderator)
        case .topic(let room, _), .mute(let room, _, _), .unmute(let room, _):
            AccessRule(.room(room), .moderator)
        case .invite(let cluster), .policy(let cluster, _), .approve(let cluster, _), .requests(let cluster),
             .deny(let cluster, _):
            AccessRule(.cluster(cluster), .moderator)
        }
    }

    /// Whether this command may start while earlier posts of its session still wait for the journal.
    public var pipelines: Bool { verb.pipelines }
}

extension Verb {
    /// Whether the verb's command may start while earlier posts of its session wait for their journal
    /// batch (Session+Pipeline.swift). Only a plain post whose handler goes through `Session.post`
    /// and nothing else may. Read from the verb word before the line is parsed.
    public var pipelines: Bool {
        switch self {
        case .say:
            true
        case .help, .ping, .pong, .quit, .register, .login, .clusters, .rooms, .join, .part, .who, .history, .mark, .head,
             .need, .offer, .propose, .back, .vote, .reply, .resolve, .status, .funding, .show, .list, .search,
             .watch, .unwatch, .matches, .grant, .revoke, .newRoom, .topic, .mute, .unmute, .invite, .policy, .approve,
             .requests, .deny:
            false
        }
    }
}

/// A new item's options and text as given. Its options (tags, dates, funder ...) are checked when it
/// runs: a date's "not in the past" depends on the server's clock.
public struct ItemPost: Sendable, Equatable {
    public var options: [String: String]
    public var text: String

    public init(options: [String: String], text: String) {
        self.options = options
        self.text = text
    }
}

// MARK: - From the grammar's parse to a typed command

extension Command {
    /// Reads a parsed line into its typed command; a value that is not what the verb takes is a
    /// BAD_SYNTAX refusal (the same whoever sends it).
    public static func typed(_ parsed: ParsedCommand) -> Result<Command, DomainError> {
        guard let verb = Verb(rawValue: parsed.verb) else {
            return .failure(DomainError(.unknownCommand, "\(parsed.verb) is not served here"))
        }
        do {
            return .success(try Reader(parsed: parsed, verb: verb).command())
        } catch {
            return .failure(error)
        }
    }
}

/// Reads one parsed line's arguments, options and text into typed values.
private struct Reader {
    let parsed: ParsedCommand
    let verb: Verb

    func argument(_ index: Int) -> String { parsed.arguments[index] }
    var optionalArgument: String? { parsed.arguments.count > verb.syntax.required.count ? parsed.arguments.last : nil }
    var text: String? { parsed.text }
    /// Text the grammar requires (`.required`): the parser has already refused a line without it.
    var requiredText: String { parsed.text ?? "" }

    func room(_ index: Int = 0) throws(DomainError) -> RoomName {
        guard let room = RoomName(argument(index)) else {
            throw DomainError(.badSyntax, "rooms are written <cluster>/<room>, e.g. rural-east-midlands/purchasing")
        }
        return room
    }

    func item(_ kinds: Set<ItemKind>) throws(DomainError) -> ItemID {
        try ItemOptions.id(argument(0), of: kinds, for: verb.rawValue).get()
    }

    func account(_ index: Int) throws(DomainError) -> String {
        let name = argument(index)
        guard Names.isValidAccount(name) else { throw DomainError(.badSyntax, "\(name) is not an account name") }
        return name
    }

    func role() throws(DomainError) -> Role {
        guard let role = Role(rawValue: argument(1).lowercased()) else {
            throw DomainError(.badSyntax, "a role is facilitator, bot or admin")
        }
        return role
    }

    func number(_ key: String, in range: ClosedRange<UInt64>) throws(DomainError) -> UInt64? {
        guard let raw = parsed.options[key] else { return nil }
        guard raw.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = UInt64(raw), range.contains(value) else {
            throw DomainError(.badSyntax, "\(key) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func tags() throws(DomainError) -> [String] {
        try ItemOptions.tags(parsed.options["tags"]).get()
    }

    var post: ItemPost { ItemPost(options: parsed.options, text: requiredText) }

    func command() throws(DomainError) -> Command {
        switch verb {
        case .help: return .help(verb: optionalArgument)
        case .ping: return .ping(token: text)
        case .pong: return .pong
        case .quit: return .quit(message: text)
        case .register:
            return .register(account: argument(0), password: argument(1), invite: parsed.options["invite"],
                             organisation: parsed.options["org"])
        case .login: return .login(account: argument(0), password: argument(1))
        case .clusters: return .clusters
        case .rooms: return .rooms(cluster: optionalArgument)
        case .join: return .join(try room())
        case .part: return .part(try room())
        case .who: return .who(try room())
        case .say: return .say(try room(), text: requiredText)
        case .history:
            let room = try room()
            return .history(room, after: try number("after", in: 0...UInt64(Int64.max)),
                            before: try number("before", in: 0...UInt64(Int64.max)),
                            limit: try number("limit", in: 1...UInt64(Int.max)))
        case .mark:
            let room = try room()
            let raw = argument(1)
            guard raw.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let seq = UInt64(raw), seq <= UInt64(Int64.max) else {
                throw DomainError(.badSyntax, "MARK <room> <seq>: seq is a whole number, the last event you have read")
            }
            return .mark(room, seq: seq)
        case .head: return .head(cluster: argument(0))
        case .need: return .need(try room(), post)
        case .offer: return .offer(try room(), post)
        case .propose: return .propose(try room(), post)
        case .funding: return .funding(try room(), post)
        case .back: return .back(try item([.proposal]), contribution: requiredText)
        case .vote:
            let id = try item([.proposal])
            guard let choice = VoteChoice(rawValue: argument(1).lowercased()) else {
                throw DomainError(.badSyntax, "a vote is agree, abstain, disagree or block")
            }
            return .vote(id, choice, reason: text)
        case .reply: return .reply(try item(Set(ItemKind.allCases)), text: requiredText)
        case .resolve: return .resolve(try item([.need, .offer]), note: text)
        case .status:
            let id = try item([.proposal, .funding])
            let targets = id.kind == .funding ? ItemStatus.fundingTargets : ItemStatus.proposalTargets
            guard let status = ItemStatus(rawValue: argument(1).lowercased()), targets.contains(status) else {
                throw DomainError(.badSyntax, id.kind == .funding ? "a funding alert's status is closed or open"
                                  : "a proposal's status is open, submitted, won, lost or withdrawn")
            }
            return .status(id, status, note: text)
        case .show: return .show(try item(Set(ItemKind.allCases)))
        case .list:
            let room = try room()
            guard let kind = ItemKind(listWord: argument(1).lowercased()) else {
                throw DomainError(.badSyntax, "LIST <room> needs|offers|proposals|funding [all]")
            }
            let all = parsed.arguments.count > 2
            if all, argument(2).lowercased() != "all" {
                throw DomainError(.badSyntax, "after the kind, LIST takes only 'all'")
            }
            return .list(room, kind, all: all)
        case .search:
            var kind: ItemKind?
            if let raw = parsed.options["kind"] {
                guard let parsedKind = ItemKind(searchWord: raw.lowercased()) else {
                    throw DomainError(.badSyntax, "kind is need, offer, proposal or funding")
                }
                kind = parsedKind
            }
            let words = requiredText.split(separator: " ").map(String.init)
            guard !words.flatMap({ Matching.words(in: $0) }).isEmpty else {
                throw DomainError(.badSyntax, "SEARCH needs a word of three letters or more that is not a common word")
            }
            return .search(kind: kind, words: words)
        case .watch: return .watch(tags: try tags())
        case .unwatch: return .unwatch(tags: try tags())
        case .matches: return .matches
        case .grant: return .grant(account: try account(0), try role(), cluster: parsed.options["cluster"])
        case .revoke: return .revoke(account: try account(0), try role(), cluster: parsed.options["cluster"])
        case .newRoom: return .newRoom(try room(), topic: text ?? "")
        case .topic: return .topic(try room(), topic: requiredText)
        case .mute: return .mute(try room(), account: try account(1), reason: text)
        case .unmute: return .unmute(try room(), account: try account(1))
        case .invite: return .invite(cluster: argument(0))
        case .policy:
            guard let policy = MembershipPolicy(rawValue: argument(1).lowercased()) else {
                throw DomainError(.badSyntax, "a membership policy is open, approval or closed")
            }
            return .policy(cluster: argument(0), policy)
        case .approve: return .approve(cluster: argument(0), account: try account(1))
        case .requests: return .requests(cluster: argument(0))
        case .deny: return .deny(cluster: argument(0), account: try account(1))
        }
    }
}
