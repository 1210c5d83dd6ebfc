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
public struct AccessRule: Sendable, Equatable {
    /// What a command names, read from its typed arguments (never from the grammar's argument names).
    public enum Scope: Sendable, Equatable {
        /// Nothing in particular (the server, or the caller's own things).
        case none
        case cluster(String)
        case room(RoomName)
        case item(ItemID)
    }

    /// What the caller must be.
    public enum Need: Sendable, Equatable {
        /// No one in particular: before LOGIN too.
        case anyone
        /// Any logged-in account.
        case login
        /// Joined to the room the command names.
        case roomMember
        /// A bot, a facilitator of the room's cluster, or an admin; joined to the room.
        case botOrModeratorInRoom
        /// A facilitator of the cluster the command names, or an admin.
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

/// What the permission check needs to know about the server and the caller's session. The server
/// answers from its live state; tests answer from a table.
public protocol AccessFacts {
    func clusterExists(_ cluster: String) -> Bool
    /// Whether the caller's session has joined `room`.
    func hasJoined(_ room: RoomName) -> Bool
}

public enum Permissions {
    /// Why `privileges` (nil before LOGIN) may not run a command with `rule`, or nil when it may.
    /// Order: AUTH_REQUIRED, then FORBIDDEN, then NOT_JOINED. A room or cluster that does not
    /// exist is left to the command to answer (NO_SUCH_CLUSTER).
    public static func refusal(_ rule: AccessRule, verb: Verb, privileges: Privileges?, facts: some AccessFacts) -> DomainError? {
        if rule.need == .anyone { return nil }
        guard let privileges else {
            return DomainError(.authRequired, "LOGIN first (or REGISTER, then LOGIN)")
        }
        var cluster: String?
        var joined = false
        switch rule.scope {
        case .none, .item:
            break
        case .cluster(let name):
            cluster = name
        case .room(let room):
            guard facts.clusterExists(room.cluster) else { return nil }
            cluster = room.cluster
            joined = facts.hasJoined(room)
        }
        switch rule.need {
        case .anyone, .login:
            return nil
        case .roomMember:
            return joined ? nil : notJoined
        case .botOrModeratorInRoom:
            guard privileges.role == .bot || privileges.moderates(cluster) else {
                return DomainError(.forbidden, "\(verb.rawValue) is for bots, facilitators of the cluster and admins")
            }
            return joined ? nil : notJoined
        case .moderator:
            return privileges.moderates(cluster) ? nil
                : DomainError(.forbidden, "\(verb.rawValue) is for facilitators of the cluster and admins")
        case .admin:
            return privileges.role == .admin ? nil : DomainError(.forbidden, "\(verb.rawValue) is for admins")
        }
    }

    private static let notJoined = DomainError(.notJoined, "JOIN the room first")
}
