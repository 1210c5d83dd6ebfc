import PartnerlineCore
import PartnerlineProtocol
import PartnerlineTransport

/// The v1 commands of the server core. Each either answers at once with `send`, or calls
/// `beginAsync()` and later answers with `finish` on this session's queue.
extension Session {
    func execute(_ request: Request) {
        if let refusal = permissionRefusal(request) { return send(request.err(refusal)) }
        switch request.verb {
        case "HELP": help(request)
        case "PING": send(request.ok(text: request.text))
        case "PONG": break  // the answer to a server PING; no reply
        case "QUIT": quit(request)
        case "REGISTER": register(request)
        case "LOGIN": login(request)
        default: executeAuthenticated(request)
        }
    }

    private func executeAuthenticated(_ request: Request) {
        guard account != nil else {
            return send(request.err(.authRequired, "LOGIN first (or REGISTER, then LOGIN)"))
        }
        switch request.verb {
        case "CLUSTERS": clusters(request)
        case "ROOMS": rooms(request)
        case "JOIN": join(request)
        case "PART": part(request)
        case "WHO": who(request)
        case "SAY": say(request)
        case "HISTORY": history(request)
        case "HEAD": head(request)
        case "NEED": postItem(request, kind: .need)
        case "OFFER": postItem(request, kind: .offer)
        case "PROPOSE": postItem(request, kind: .proposal)
        case "FUNDING": postItem(request, kind: .funding)
        case "BACK", "VOTE", "REPLY", "RESOLVE", "STATUS": changeItem(request)
        case "SHOW": show(request)
        case "LIST": list(request)
        case "SEARCH": search(request)
        case "MATCHES": matches(request)
        case "WATCH", "UNWATCH": watch(request)
        case "GRANT", "REVOKE": changeRole(request)
        case "NEWROOM", "TOPIC", "MUTE", "UNMUTE", "POLICY", "APPROVE": moderate(request)
        case "INVITE": invite(request)
        default:
            send(request.err(.unknownCommand, "\(request.verb) is not served here"))
        }
    }

    // MARK: Anyone

    private func help(_ request: Request) {
        let grammar = service.parser.grammar
        let verbs: [String]
        if let wanted = request.arguments.first {
            guard let syntax = grammar.syntax(for: wanted) else {
                return send(request.err(.unknownCommand, "no command \(wanted.uppercased()); HELP lists them"))
            }
            verbs = [syntax.verb]
        } else {
            verbs = grammar.verbs
        }
        var reply: [UInt8] = []
        for verb in verbs {
            guard let syntax = grammar.syntax(for: verb) else { continue }
            reply += request.data("HELP", [syntax.verb], [("usage", syntax.usage)], text: syntax.summary)
        }
        send(reply + request.ok())
    }

    private func quit(_ request: Request) {
        send(ServerLine.tagged(request.tag, ServerLine.bye(code: "QUIT", text: request.text ?? "goodbye")))
        markClosing()
        connection.close(flush: true)
    }

    /// Passwords cross the wire in clear over plaintext: only loopback may do that.
    private func refusesPlaintextCredentials(_ request: Request) -> Bool {
        guard !connection.isTLS, !service.peerIsTrustedForPlaintext(connection.peer) else { return false }
        send(request.err(.plaintextRefused, "LOGIN and REGISTER need TLS from a non-loopback address"))
        return true
    }

    private func register(_ request: Request) {
        guard !refusesPlaintextCredentials(request) else { return }
        let name = request.arguments[0]
        beginAsync()
        service.accounts.register(account: name, password: request.arguments[1], organisation: request.options["org"],
                                  invite: request.options["invite"], owner: hashingOwner) { [self] result in
            onQueue { [self] in
                switch result {
                case .success(let account):
                    service.log.info("account registered", metadata: ["account": "\(account.name)", "peer": "\(connection.peer)"])
                    finish(request.ok([("account", account.name)]))
                case .failure(let error):
                    finish(request.err(error))
                }
            }
        }
    }

    private func login(_ request: Request) {
        guard !refusesPlaintextCredentials(request) else { return }
        if let account {
            return send(request.err(.invalidState, "already logged in as \(account.name)"))
        }
        let name = request.arguments[0]
        if let block = service.loginThrottle.check(account: name, address: addressKey) {
            return send(request.err(.rateLimited, "too many failed logins for \(block.what); try again in \(block.retryAfterSeconds) s"))
        }
        if request.arguments[1] == Session.certificatePassword {
            return loginByCertificate(request, account: name)
        }
        beginAsync()
        service.accounts.login(account: name, password: request.arguments[1], owner: hashingOwner) { [self] result in
            onQueue { [self] in
                loginFinished(request, result, byCertificate: false)
            }
        }
    }

    func loginFinished(_ request: Request, _ result: Result<Account, DomainError>, byCertificate: Bool) {
        let name = request.arguments[0]
        switch result {
        case .success(let account):
            service.loginThrottle.recordSuccess(account: name)
            loggedIn(as: account, byCertificate: byCertificate)
            service.online.add(self)
            let role = service.accounts.privileges(of: account.name)?.displayRole ?? account.role
            if role == .bot { useBotRate() }
            finish(request.ok([("account", account.name), ("role", role.rawValue)]))
        case .failure(let error) where error.code == .rateLimited:
            finish(request.err(error))   // the server was busy: no password was checked, no failure counted
        case .failure(let error):
            service.loginThrottle.recordFailure(account: name, address: addressKey)
            service.log.notice("failed login", metadata: ["account": "\(name)", "peer": "\(connection.peer)"])
            finish(request.err(error))
        }
    }

    // MARK: Logged in

    private func clusters(_ request: Request) {
        beginAsync()
        service.summaries(of: service.shards) { [self] summaries in
            onQueue { [self] in
                var reply: [UInt8] = []
                for cluster in summaries {
                    reply += request.data("CLUSTER", [cluster.name], [("rooms", String(cluster.rooms.count))], text: cluster.description)
                }
                finish(reply + request.ok([("count", String(summaries.count))]))
            }
        }
    }

    private func rooms(_ request: Request) {
        var shards = service.shards
        if let cluster = request.arguments.first {
            guard let shard = service.shard(cluster) else {
                return send(request.err(.noSuchCluster, "no cluster \(cluster); CLUSTERS lists them"))
            }
            shards = [shard]
        }
        beginAsync()
        service.summaries(of: shards) { [self] summaries in
            onQueue { [self] in
                var reply: [UInt8] = []
                var count = 0
                for room in summaries.flatMap(\.rooms) {
                    count += 1
                    reply += request.data("ROOM", [room.name.description],
                                          [("members", String(room.members)), ("last", String(room.lastSeq))], text: room.topic)
                }
                finish(reply + request.ok([("count", String(count))]))
            }
        }
    }

    /// Resolves a room argument to its shard, or answers the request with why not.
    func resolveRoom(_ request: Request, _ text: String) -> (RoomName, ClusterShard)? {
        guard let room = RoomName(text) else {
            send(request.err(.badSyntax, "rooms are written <cluster>/<room>, e.g. rural-east-midlands/purchasing"))
            return nil
        }
        guard let shard = service.shard(room.cluster) else {
            send(request.err(.noSuchCluster, "no cluster \(room.cluster); CLUSTERS lists them"))
            return nil
        }
        return (room, shard)
    }

    /// Resolves a room the session must have joined.
    private func resolveJoinedRoom(_ request: Request) -> (RoomName, ClusterShard)? {
        guard let (room, shard) = resolveRoom(request, request.arguments[0]) else { return nil }
        guard joined.contains(room) else {
            send(request.err(.notJoined, "JOIN \(room) first"))
            return nil
        }
        return (room, shard)
    }

    private func join(_ request: Request) {
        guard let (room, shard) = resolveRoom(request, request.arguments[0]) else { return }
        beginAsync()
        let name = account?.name ?? ""
        shard.join(room: room, subscriber: self, moderates: privileges.moderates(room.cluster),
                   invitedHere: service.accounts.invitedCluster(of: name) == room.cluster) { [self] result in
            onQueue { [self] in
                switch result {
                case .success(let last):
                    didJoin(room)
                    finish(request.ok([("room", room.description), ("last", String(last))]))
                case .failure(let error):
                    finish(request.err(error))
                }
            }
        }
    }

    private func part(_ request: Request) {
        guard let (room, shard) = resolveJoinedRoom(request) else { return }
        didPart(room)
        shard.part(room: room, subscriber: self)
        send(request.ok([("room", room.description)]))
    }

    private func who(_ request: Request) {
        guard let (room, shard) = resolveRoom(request, request.arguments[0]) else { return }
        beginAsync()
        shard.who(room: room) { [self] result in
            let organisations = result.map { members in members.map { service.accounts.organisation(of: $0.0) } }
            onQueue { [self] in
                switch (result, organisations) {
                case (.success(let members), .success(let orgs)):
                    var reply: [UInt8] = []
                    for ((name, online), org) in zip(members, orgs) {
                        reply += request.data("MEMBER", [name], [("online", online ? "yes" : "no")], text: org)
                    }
                    finish(reply + request.ok([("room", room.description), ("count", String(members.count))]))
                case (.failure(let error), _), (_, .failure(let error)):
                    finish(request.err(error))
                }
            }
        }
    }

    private func say(_ request: Request) {
        guard let (room, shard) = resolveJoinedRoom(request), let account else { return }
        post(request, to: shard, room: room, actor: account.name, kind: "SAY", text: request.text)
    }

    /// Stores an event and answers `OK <VERB> room=.. seq=..` once it is durable.
    func post(_ request: Request, to shard: ClusterShard, room: RoomName, actor: String, kind: String,
              fields: [(String, String)] = [], text: String?) {
        let reply: @Sendable (Result<UInt64, DomainError>) -> [UInt8] = { result in
            switch result {
            case .success(let seq): request.ok([("room", room.description), ("seq", String(seq))])
            case .failure(let error): request.err(error)
            }
        }
        if Session.pipelinedVerbs.contains(request.verb) {
            let slot = beginPipelinedPost()
            shard.post(room: room, actor: actor, kind: kind, fields: fields, text: text,
                       replyQueue: connection.queue) { [self] result in
                finishPipelinedPost(slot, reply(result))
            }
            return
        }
        beginAsync()
        shard.post(room: room, actor: actor, kind: kind, fields: fields, text: text,
                   replyQueue: connection.queue) { [self] result in
            finish(reply(result))
        }
    }

    private func history(_ request: Request) {
        guard let (room, shard) = resolveJoinedRoom(request) else { return }
        let after = request.number("after", in: 0...UInt64(Int64.max))
        let before = request.number("before", in: 0...UInt64(Int64.max))
        let limit = request.number("limit", in: 1...UInt64(Int.max))
        guard case .success(let afterSeq) = after, case .success(let beforeSeq) = before,
              case .success(let requestedLimit) = limit
        else {
            for case .failure(let error) in [after, before, limit] { return send(request.err(error)) }
            return
        }
        let count = min(Int(requestedLimit ?? UInt64(ServiceContext.defaultHistoryLimit)), ServiceContext.maxHistoryLimit)
        beginAsync()
        shard.history(room: room, after: afterSeq, before: beforeSeq, limit: count) { [self] result in
            onQueue { [self] in
                switch result {
                case .success(let lines):
                    var reply: [UInt8] = []
                    for line in lines { reply += ServerLine.tagged(request.tag, line) }
                    finish(reply + request.ok([("room", room.description), ("count", String(lines.count))]))
                case .failure(let error):
                    finish(request.err(error))
                }
            }
        }
    }
}
