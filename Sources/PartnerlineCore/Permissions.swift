import PartnerlineProtocol

/// What an account may do in a cluster: its account role, plus the clusters it facilitates.
public struct Privileges: Sendable, Equatable {
    public var role: Role
    /// Clusters this account is a facilitator of (facilitator is a per-cluster role).
    public var facilitates: Set<String>

    public init(role: Role, facilitates: Set<String> = []) {
        self.role = role
        self.facilitates = facilitates
    }

    /// Facilitator of `cluster`, or an admin (who may do anything a facilitator may, everywhere).
    public func moderates(_ cluster: String?) -> Bool {
        role == .admin || (cluster.map(facilitates.contains) ?? false)
    }

    /// The role LOGIN reports: admin and bot as they are, facilitator if the account facilitates any cluster.
    public var displayRole: Role {
        role == .member && !facilitates.isEmpty ? .facilitator : role
    }
}

/// Who may run a command, on what: the scope the command names and what the caller must be there.
/// Every `Command` has one (`Command.access`); `Permissions.refusal` judges it before the command runs.
///
/// The rule (protocol 1.1, "Access by cluster membership"): a cluster's content is for its members.
/// An account may see a cluster (`Permissions.maySee`) when it is a member of it (it joined one of
/// its rooms, or a facilitator approved it), facilitates it, or is an admin.
public struct AccessRule: Sendable, Equatable {
    /// What a command names, read from its typed arguments (never from the grammar's argument names).
    public enum Scope: Sendable, Equatable {
        /// Nothing in particular (the server, or the caller's own things).
        case none
        /// A cluster, which must exist (NO_SUCH_CLUSTER).
        case cluster(String)
        /// A room, which must exist (NO_SUCH_CLUSTER, then NO_SUCH_ROOM) before anything else is judged.
        case room(RoomName)
        /// An item. One that does not exist is refused exactly as one the caller may not see (unless
        /// the caller is an admin), so ids cannot be probed.
        case item(ItemID)
    }

    /// What the caller must be.
    public enum Need: Sendable, Equatable {
        /// No one in particular: before LOGIN too.
        case anyone
        /// Any logged-in account (the scope must still exist).
        case login
        /// One who may see the scope's cluster.
        case clusterMember
        /// One who may see the cluster and has joined the room (NOT_JOINED otherwise): posting.
        case roomMember
        /// A bot, a facilitator of the room's cluster, or an admin, who may see the cluster and has joined the room.
        case botOrModeratorInRoom
        /// A facilitator of the scope's cluster, or an admin.
        case moderator
        /// An admin.
        case admin
    }

    public var scope: Scope
    public var need: Need

    public init(_ scope: Scope, _ need: Need) {
        self.scope = scope
        self.need = need
    }

    public static let anyone = AccessRule(.none, .anyone)
    public static let loggedIn = AccessRule(.none, .login)
}

/// What the permission check needs to know about the server and the caller. The server answers
/// from its live state; tests answer from a table.
public protocol AccessFacts {
    func clusterExists(_ cluster: String) -> Bool
    func roomExists(_ room: RoomName) -> Bool
    /// The cluster an item lives in, or nil when there is no such item.
    func cluster(of item: ItemID) -> String?
    /// Whether the caller's account is a member of `cluster` (joined one of its rooms, or approved).
    func isMember(of cluster: String) -> Bool
    /// Whether the caller's session has joined `room`.
    func hasJoined(_ room: RoomName) -> Bool
}

public enum Permissions {
    /// Why `privileges` (nil before LOGIN) may not run a command with `rule`, or nil when it may.
    /// Order: AUTH_REQUIRED; then the scope must exist (NO_SUCH_CLUSTER, NO_SUCH_ROOM; an item the
    /// caller may not see is FORBIDDEN whether or not it exists); then FORBIDDEN (not a member of the
    /// cluster, or lacking the role); then NOT_JOINED (a member of the cluster, not of the room).
    /// A refusal's message names only what the caller gave, never the content.
    public static func refusal(_ rule: AccessRule, verb: Verb, privileges: Privileges?, facts: some AccessFacts) -> DomainError? {
        if rule.need == .anyone { return nil }
        guard let privileges else {
            return DomainError(.authRequired, "LOGIN first (or REGISTER, then LOGIN)")
        }
        var cluster: String?
        var room: RoomName?
        var item: ItemID?
        switch rule.scope {
        case .none:
            break
        case .cluster(let name):
            guard facts.clusterExists(name) else { return noSuchCluster(name) }
            cluster = name
        case .room(let name):
            guard facts.clusterExists(name.cluster) else { return noSuchCluster(name.cluster) }
            guard facts.roomExists(name) else {
                return DomainError(.noSuchRoom, "no room \(name.room) in cluster \(name.cluster); ROOMS \(name.cluster) lists them")
            }
            cluster = name.cluster
            room = name
        case .item(let id):
            // An absent item answers as one out of sight (below), so ids cannot be probed; admins see
            // every cluster, so they are told it does not exist.
            guard let home = facts.cluster(of: id) else {
                return privileges.role == .admin ? DomainError(.noSuchItem, "no item \(id)") : itemOutOfSight(id)
            }
            cluster = home
            item = id
        }
        func member() -> DomainError? {
            guard let cluster, !maySee(cluster, privileges, facts) else { return nil }
            // For an item, not even its cluster is named.
            if let item { return itemOutOfSight(item) }
            return DomainError(.forbidden, "\(verb.rawValue) is for members of \(cluster): JOIN one of its rooms first (ROOMS \(cluster) lists them)")
        }
        func inRoom() -> DomainError? {
            guard let room, !facts.hasJoined(room) else { return nil }
            return DomainError(.notJoined, "JOIN \(room) first")
        }
        switch rule.need {
        case .anyone, .login:
            return nil
        case .clusterMember:
            return member()
        case .roomMember:
            return member() ?? inRoom()
        case .botOrModeratorInRoom:
            if let refusal = member() { return refusal }
            guard privileges.role == .bot || privileges.moderates(cluster) else {
                return DomainError(.forbidden, "\(verb.rawValue) is for bots, facilitators of the cluster and admins")
            }
            return inRoom()
        case .moderator:
            return privileges.moderates(cluster) ? nil
                : DomainError(.forbidden, "\(verb.rawValue) is for facilitators of the cluster and admins")
        case .admin:
            return privileges.role == .admin ? nil : DomainError(.forbidden, "\(verb.rawValue) is for admins")
        }
    }

    /// Whether an account may see `cluster`'s content: a member, a facilitator of it, or an admin.
    public static func maySee(_ cluster: String, _ privileges: Privileges, _ facts: some AccessFacts) -> Bool {
        privileges.moderates(cluster) || facts.isMember(of: cluster)
    }

    private static func noSuchCluster(_ name: String) -> DomainError {
        DomainError(.noSuchCluster, "no cluster \(name); CLUSTERS lists them")
    }

    private static func itemOutOfSight(_ id: ItemID) -> DomainError {
        DomainError(.forbidden, "\(id) is not an item of a cluster you belong to")
    }
}
