import PartnerlineCore
import PartnerlineProtocol

extension Session {
    /// The one permission gate: every command passes `Permissions.refusal` (PartnerlineCore) with its
    /// own access rule (`Command.access`) before it runs, with the account's privileges as they are now.
    func permissionRefusal(_ request: Request) -> DomainError? {
        let rule = request.command.access
        guard rule.need != .anyone else { return nil }
        let privileges = account.flatMap { service.accounts.privileges(of: $0.name) }
        return Permissions.refusal(rule, verb: request.command.verb, privileges: privileges,
                                   facts: SessionAccessFacts(session: self))
    }

    /// The account's privileges now (after LOGIN; the gate has already checked there is one).
    var privileges: Privileges {
        account.flatMap { service.accounts.privileges(of: $0.name) } ?? Privileges(role: .member)
    }
}

/// The server's answers to the permission check, for one session (on its queue).
struct SessionAccessFacts: AccessFacts {
    let session: Session

    func clusterExists(_ cluster: String) -> Bool { session.service.shard(cluster) != nil }
    func hasJoined(_ room: RoomName) -> Bool { session.joined.contains(room) }
}
