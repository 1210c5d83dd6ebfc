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

    /// Whether this session's account may see `cluster`'s content (a member, its facilitator, an admin):
    /// what SEARCH and MATCHES filter their answers by.
    func maySee(_ cluster: String) -> Bool {
        account != nil && Permissions.maySee(cluster, privileges, SessionAccessFacts(session: self))
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
    func roomExists(_ room: RoomName) -> Bool { session.service.shard(room.cluster)?.accessView.roomExists(room.room) ?? false }
    func cluster(of item: ItemID) -> String? { session.service.itemIndex.cluster(of: item) }
    func isMember(of cluster: String) -> Bool {
        session.service.shard(cluster)?.accessView.isMember(session.accountName) ?? false
    }
    func hasJoined(_ room: RoomName) -> Bool { session.joined.contains(room) }
}
