import PartnerlineCore
import PartnerlineProtocol
import PartnerlineTransport

/// The v1 commands of the server core. Each either answers at once with `send`, or calls
/// `beginAsync()` and later answers with `finish` on this session's queue.
extension Session {
    /// The dispatcher: the permission gate (each command's own `access` rule), then one exhaustive
    /// switch over the typed command. A new `Command` case does not compile until it is handled here.
    func execute(_ request: Request) {
        if let refusal = permissionRefusal(request) { return send(request.err(refusal)) }
        switch request.command {
        case .help(let verb): help(request, verb: verb)
        case .ping(let token): send(request.ok(text: token))
        case .pong: break  // the answer to a server PING; no reply
        case .quit(let message): quit(request, message: message)
        case .register(let name, let password, let invite, let organisation):
            register(request, name: name, password: password, invite: invite, organisation: organisation)
        case .login(let name, let password): login(request, name: name, password: password)
        case .clusters: clusters(request)
        case .rooms(let cluster): rooms(request, cluster: cluster)
        case .join(let room): join(request, room)
        case .part(let room): part(request, room)
        case .who(let room): who(request, room)
        case .say(let room, let text): say(request, room, text: text)
        case .history(let room, let after, let before, let limit):
            history(request, room, after: after, before: before, limit: limit)
        case .mark(let room, let seq): mark(request, room, seq: seq)
        case .head(let cluster): head(request, cluster: cluster)
        case .need(let room, let post): postItem(request, .need, room, post)
        case .offer(let room, let post): postItem(request, .offer, room, post)
        case .propose(let room, let post): postItem(request, .proposal, room, post)
        case .funding(let room, let post): postItem(request, .funding, room, post)
        case .back(let id, let contribution): changeItem(request, .back(id, contribution: contribution))
        case .vote(let id, let choice, let reason): changeItem(request, .vote(id, choice, reason: reason))
        case .reply(let id, let text): changeItem(request, .reply(id, text: text))
        case .resolve(let id, let note): changeItem(request, .resolve(id, note: note))
        case .status(let id, let status, let note): changeItem(request, .status(id, status, note: note))
        case .show(let id): show(request, id)
        case .list(let room, let kind, let all): list(request, room, kind, all: all)
        case .search(let kind, let words): search(request, kind: kind, words: words)
        case .matches: matches(request)
        case .watch(let tags): watch(request, tags: tags, watch: true)
        case .unwatch(let tags): watch(request, tags: tags, watch: false)
        case .grant(let target, let role, let cluster):
            changeRole(request, grant: true, target: target, role: role, cluster: cluster)
        case .revoke(let target, let role, let cluster):
            changeRole(request, grant: false, target: target, role: role, cluster: cluster)
        case .newRoom(let room, let topic): moderate(request, room: room, .createRoom(room, topic: topic))
        case .topic(let room, let topic): moderate(request, room: room, .setTopic(room, topic: topic))
        case .mute(let room, let target, let reason):
            moderate(request, room: room, target: target) { .mute(room, account: target, reason: reason) }
        case .unmute(let room, let target):
            moderate(request, room: room, target: target) { .unmute(room, account: target) }
        case .policy(let cluster, let policy): moderate(request, cluster: cluster, .setPolicy(policy))
        case .approve(let cluster, let target):
            moderate(request, cluster: cluster, target: target) { .approve(account: target) }
        case .invite(let cluster): invite(request, cluster: cluster)
        case .requests(let cluster): requests(request, cluster: cluster)
        case .deny(let cluster, let target):
            moderate(request, cluster: cluster, target: target) { .deny(account: target) }
        }
    }

    // MARK: Anyone

    private func help(_ request: Request, verb wanted: String?) {
        let grammar = service.parser.grammar
        let verbs: [String]
        if let wanted {
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

    private func quit(_ request: Request, message: String?) {
        send(ServerLine.tagged(request.tag, ServerLine.bye(code: "QUIT", text: message ?? "goodbye")))
        markClosing()
        connection.close(flush: true)
    }

    /// Passwords cross the wire in clear over plaintext: only loopback may do that.
    private func refusesPlaintextCredentials(_ request: Request) -> Bool {
        guard !connection.isTLS, !service.peerIsTrustedForPlaintext(connection.peer) else { return false }
        send(request.err(.plaintextRefused, "LOGIN and REGISTER need TLS from a non-loopback address"))
        return true
    }

    private func register(_ request: Request, name: String, password: String, invite: String?, organisation: String?) {
        guard !refusesPlaintextCredentials(request) else { return }
        beginAsync()
        service.accounts.register(account: name, password: password, organisation: organisation,
                                  invite: invite, owner: hashingOwner) { [self] result in
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

    private func login(_ request: Request, name: String, password: String) {
        guard !refusesPlaintextCredentials(request) else { return }
        if let account {
            return send(request.err(.invalidState, "already logged in as \(account.name)"))
        }
        if let block = service.loginThrottle.check(account: name, address: addressKey) {
            return send(request.err(.rateLimited, "too many failed logins for \(block.what); try again in \(block.retryAfterSeconds) s"))
        }
        if password == Session.certificatePassword {
            return loginByCertificate(request, account: name)
        }
        beginAsync()
        service.accounts.login(account: name, password: password, owner: hashingOwner) { [self] result in
            onQueue { [self] in
                loginFinished(request, name: name, result, byCertificate: false)
            }
        }
    }

    func loginFinished(_ request: Request, name: String, _ result: Result<Account, DomainError>, byCertificate: Bool) {
        switch result {
        case .success(let account):
            service.loginThrottle.recordSuccess(account: name)
            loggedIn(as: account, byCertificate: byCertificate)
            service.online.add(self)
            let role = service.accounts.privileges(of: account.name)?.displayRole ?? account.role
            if role == .bot { useBotRate() }
            resume(request, okFields: [("account", account.name), ("role", role.rawValue)])
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

    private func rooms(_ request: Request, cluster: String?) {
        var shards = service.shards
        if let cluster {
            guard let shard = service.shard(cluster) else {
                return send(request.err(.noSuchCluster, "no cluster \(cluster); CLUSTERS lists them"))
            }
            shards = [shard]
        }
        beginAsync()
        service.summaries(of: shards, for: account?.name) { [self] summaries in
            onQueue { [self] in
                var reply: [UInt8] = []
                var count = 0
                for room in summaries.flatMap(\.rooms) {
                    count += 1
                    var fields = [("members", String(room.members)), ("last", String(room.lastSeq))]
                    if let read = room.read { fields.append(("read", String(read))) }   // rooms one is a member of
                    reply += request.data("ROOM", [room.name.description], fields, text: room.topic)
                }
                finish(reply + request.ok([("count", String(count))]))
            }
        }
    }

    /// The shard of a room's cluster, or answers the request with why not. (The permission gate has
    /// already checked that the room exists and that the caller may do this there.)
    func resolveRoom(_ request: Request, _ room: RoomName) -> ClusterShard? {
        guard let shard = service.shard(room.cluster) else {
            send(request.err(.noSuchCluster, "no cluster \(room.cluster); CLUSTERS lists them"))
            return nil
        }
        return shard
    }

    private func join(_ request: Request, _ room: RoomName) {
        guard let shard = resolveRoom(request, room) else { return }
        beginAsync()
        let name = account?.name ?? ""
        let service = service
        shard.join(room: room, subscriber: self, moderates: privileges.moderates(room.cluster),
                   invitedHere: service.accounts.invitedCluster(of: name) == room.cluster,
                   requested: { service.noticeModerators(of: room.cluster, "\(name) asks to join \(room.cluster)") }) { [self] result in
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

    private func part(_ request: Request, _ room: RoomName) {
        guard let shard = resolveRoom(request, room) else { return }
        didPart(room)
        shard.part(room: room, subscriber: self)
        send(request.ok([("room", room.description)]))
    }

    private func who(_ request: Request, _ room: RoomName) {
        guard let shard = resolveRoom(request, room) else { return }
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

    private func say(_ request: Request, _ room: RoomName, text: String) {
        guard let shard = resolveRoom(request, room), let account else { return }
        post(request, to: shard, room: room, actor: account.name, kind: "SAY", text: text)
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
        if request.command.pipelines {
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

    private func history(_ request: Request, _ room: RoomName, after afterSeq: UInt64?, before beforeSeq: UInt64?,
                         limit requestedLimit: UInt64?) {
        guard let shard = resolveRoom(request, room) else { return }
        let count = min(Int(requestedLimit ?? UInt64(ServiceContext.defaultHistoryLimit)), ServiceContext.maxHistoryLimit)
        beginAsync()
        shard.history(room: room, after: afterSeq, before: beforeSeq, limit: count) { [self] result in
            onQueue { [self] in
                switch result {
                case .success(let page):
                    var reply: [UInt8] = []
                    for line in page.lines { reply += ServerLine.tagged(request.tag, line) }
                    finish(reply + request.ok([("room", room.description), ("count", String(page.lines.count)),
                                               ("more", page.more ? "yes" : "no")]))
                case .failure(let error):
                    finish(request.err(error))
                }
            }
        }
    }
}
