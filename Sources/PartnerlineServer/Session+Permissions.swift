import PartnerlineCore
import PartnerlineProtocol

extension Session {
    /// The one permission gate: every command passes `Permissions.check` (PartnerlineCore) before it
    /// runs, with the account's privileges as they are now and the room or cluster the command names.
    /// A malformed room or unknown cluster is left to the command to answer (BAD_SYNTAX,
    /// NO_SUCH_CLUSTER), so only login is checked for those here.
    func permissionRefusal(_ request: Request) -> DomainError? {
        guard let access = Permissions.table[request.verb], access != .anyone else { return nil }
        let privileges = account.flatMap { service.accounts.privileges(of: $0.name) }
        guard privileges != nil else {
            return Permissions.check(verb: request.verb, privileges: nil, cluster: nil, joined: false)
        }
        var cluster: String?
        var joinedRoom = false
        if service.parser.grammar.syntax(for: request.verb)?.required.first == "room" {
            guard let room = RoomName(request.arguments[0]), service.shard(room.cluster) != nil else { return nil }
            cluster = room.cluster
            joinedRoom = joined.contains(room)
        } else if service.parser.grammar.syntax(for: request.verb)?.required.first == "cluster" {
            cluster = request.arguments[0]
        } else if let named = request.options["cluster"] {
            cluster = named
        }
        return Permissions.check(verb: request.verb, privileges: privileges, cluster: cluster, joined: joinedRoom)
    }

    /// The account's privileges now (after LOGIN; the gate has already checked there is one).
    var privileges: Privileges {
        account.flatMap { service.accounts.privileges(of: $0.name) } ?? Privileges(role: .member)
    }
}
