import PartnerlineCore
import PartnerlineProtocol

/// NEWROOM, TOPIC, MUTE, UNMUTE, POLICY, APPROVE and INVITE. The permission gate has already checked
/// that the account facilitates the cluster (or is an admin); the cluster's state judges the rest.
extension Session {
    func moderate(_ request: Request) {
        guard let account else { return }
        let verb = request.verb
        let action: ModerationAction
        let shard: ClusterShard
        if verb == "POLICY" || verb == "APPROVE" {
            guard let found = service.shard(request.arguments[0]) else {
                return send(request.err(.noSuchCluster, "no cluster \(request.arguments[0]); CLUSTERS lists them"))
            }
            shard = found
            if verb == "POLICY" {
                guard let policy = MembershipPolicy(rawValue: request.arguments[1].lowercased()) else {
                    return send(request.err(.badSyntax, "a membership policy is open, approval or closed"))
                }
                action = .setPolicy(policy)
            } else {
                guard let target = existingAccount(request, request.arguments[1]) else { return }
                action = .approve(account: target)
            }
        } else {
            guard let (room, found) = resolveRoom(request, request.arguments[0]) else { return }
            shard = found
            switch verb {
            case "NEWROOM":
                action = .createRoom(room, topic: request.text ?? "")
            case "TOPIC":
                action = .setTopic(room, topic: request.text ?? "")
            case "MUTE":
                guard let target = existingAccount(request, request.arguments[1]) else { return }
                action = .mute(room, account: target, reason: request.text)
            default:
                guard let target = existingAccount(request, request.arguments[1]) else { return }
                action = .unmute(room, account: target)
            }
        }
        beginAsync()
        shard.moderate(action, actor: account.name) { [self] result in
            onQueue { [self] in
                switch result {
                case .success:
                    var fields = [(request.verb == "POLICY" || request.verb == "APPROVE" ? "cluster" : "room", request.arguments[0])]
                    if request.arguments.count > 1 {
                        fields.append((request.verb == "POLICY" ? "policy" : "account", request.arguments[1].lowercased()))
                    }
                    finish(request.ok(fields))
                case .failure(let error):
                    finish(request.err(error))
                }
            }
        }
    }

    func invite(_ request: Request) {
        guard let account else { return }
        let cluster = request.arguments[0]
        guard service.shard(cluster) != nil else {
            return send(request.err(.noSuchCluster, "no cluster \(cluster); CLUSTERS lists them"))
        }
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

    /// The account named, or answers NO_SUCH_ACCOUNT / BAD_SYNTAX.
    private func existingAccount(_ request: Request, _ name: String) -> String? {
        guard Names.isValidAccount(name) else {
            send(request.err(.badSyntax, "\(name) is not an account name"))
            return nil
        }
        guard service.accounts.privileges(of: name) != nil else {
            send(request.err(.noSuchAccount, "no account \(name)"))
            return nil
        }
        return name
    }
}
