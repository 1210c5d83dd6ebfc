import PartnerlineCore
import PartnerlineProtocol

/// NEWROOM, TOPIC, MUTE, UNMUTE, POLICY, APPROVE, DENY, REQUESTS and INVITE. The permission gate has already checked
/// that the account facilitates the cluster (or is an admin); the cluster's state judges the rest.
extension Session {
    /// NEWROOM and TOPIC: an action on a room of a cluster. Answers `OK <VERB> room=<room>`.
    func moderate(_ request: Request, room: RoomName, _ action: ModerationAction) {
        guard let shard = resolveRoom(request, room) else { return }
        run(request, action, on: shard, fields: [("room", room.description)])
    }

    /// MUTE and UNMUTE: an action on an existing account in a room. Answers `OK <VERB> room=.. account=..`.
    func moderate(_ request: Request, room: RoomName, target: String, _ action: () -> ModerationAction) {
        guard let shard = resolveRoom(request, room), existingAccount(request, target) else { return }
        run(request, action(), on: shard, fields: [("room", room.description), ("account", target)])
    }

    /// POLICY: an action on a cluster. Answers `OK POLICY cluster=.. policy=..`.
    func moderate(_ request: Request, cluster: String, _ action: ModerationAction) {
        guard let shard = resolveCluster(request, cluster) else { return }
        var fields = [("cluster", cluster)]
        if case .setPolicy(let policy) = action { fields.append(("policy", policy.rawValue)) }
        run(request, action, on: shard, fields: fields)
    }

    /// APPROVE and DENY: an action on an existing account in a cluster. Answers `OK <VERB> cluster=.. account=..`.
    func moderate(_ request: Request, cluster: String, target: String, _ action: () -> ModerationAction) {
        guard let shard = resolveCluster(request, cluster), existingAccount(request, target) else { return }
        run(request, action(), on: shard, fields: [("cluster", cluster), ("account", target)])
    }

    private func run(_ request: Request, _ action: ModerationAction, on shard: ClusterShard, fields: [(String, String)]) {
        guard let account else { return }
        beginAsync()
        shard.moderate(action, actor: account.name) { [self] result in
            onQueue { [self] in
                switch result {
                case .success: finish(request.ok(fields))
                case .failure(let error): finish(request.err(error))
                }
            }
        }
    }

    /// REQUESTS: `* REQUEST <account> time=<t> :<org>` per JOIN waiting for approval, oldest first.
    func requests(_ request: Request, cluster: String) {
        guard let shard = resolveCluster(request, cluster) else { return }
        beginAsync()
        shard.readItems({ _, state in state.orderedJoinRequests.map { ($0.account, $0.timeMillis) } }, reply: { [self] waiting in
            let organisations = waiting.map { service.accounts.organisation(of: $0.0) }
            onQueue { [self] in
                var lines: [UInt8] = []
                for ((account, time), org) in zip(waiting, organisations) {
                    lines += request.data("REQUEST", [account], [("time", Timestamp.format(millis: time))], text: org)
                }
                finish(lines + request.ok([("cluster", cluster), ("count", String(waiting.count))]))
            }
        })
    }

    /// The shard of a cluster, or answers NO_SUCH_CLUSTER.
    func resolveCluster(_ request: Request, _ cluster: String) -> ClusterShard? {
        guard let shard = service.shard(cluster) else {
            send(request.err(.noSuchCluster, "no cluster \(cluster); CLUSTERS lists them"))
            return nil
        }
        return shard
    }

    func invite(_ request: Request, cluster: String) {
        guard let account, resolveCluster(request, cluster) != nil else { return }
        beginAsync()
        service.accounts.createInvite(cluster: cluster, by: account.name) { [self] result in
            onQueue { [self] in
                switch result {
                case .success(let code): finish(request.ok([("code", code), ("cluster", cluster)]))
                case .failure(let error): finish(request.err(error))
                }
            }
        }
    }

    /// Whether the account named exists; answers NO_SUCH_ACCOUNT when not (its name was read as one).
    private func existingAccount(_ request: Request, _ name: String) -> Bool {
        guard service.accounts.privileges(of: name) != nil else {
            send(request.err(.noSuchAccount, "no account \(name)"))
            return false
        }
        return true
    }
}
