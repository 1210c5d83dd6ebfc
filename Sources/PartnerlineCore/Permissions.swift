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

/// Who may use a command. Checked in one place (`Permissions.check`) before a command runs.
public enum Access: Sendable, Equatable {
    /// Before LOGIN too.
    case anyone
    /// Any logged-in account.
    case login
    /// Logged in and joined to the room the command names.
    case joined
    /// A bot, a facilitator of the room's cluster, or an admin; joined to the room.
    case botOrModeratorJoined
    /// A facilitator of the cluster the command names (by room or cluster), or an admin.
    case moderator
    /// An admin.
    case admin
}

public enum Permissions {
    /// The one table: every verb of the grammar has exactly one row (a test checks this).
    public static let table: [String: Access] = [
        "HELP": .anyone, "PING": .anyone, "PONG": .anyone, "QUIT": .anyone, "REGISTER": .anyone, "LOGIN": .anyone,
        "CLUSTERS": .login, "ROOMS": .login, "JOIN": .login, "PART": .login, "WHO": .login,
        "SAY": .joined, "HISTORY": .joined,
        // HEAD is for members of the cluster (ever joined one of its rooms) and admins: its own check.
        "HEAD": .login,
        "NEED": .joined, "OFFER": .joined, "PROPOSE": .joined,
        // On an item, by its id: the item's room need not be joined (spec: `auth`). Whether the
        // account is the item's author or lead (RESOLVE, STATUS) is the domain's check.
        "BACK": .login, "VOTE": .login, "REPLY": .login, "RESOLVE": .login, "STATUS": .login,
        "FUNDING": .botOrModeratorJoined,
        "SHOW": .login, "LIST": .login, "SEARCH": .login, "WATCH": .login, "UNWATCH": .login, "MATCHES": .login,
        "GRANT": .moderator, "REVOKE": .moderator,
        "NEWROOM": .moderator, "TOPIC": .moderator, "MUTE": .moderator, "UNMUTE": .moderator,
        "INVITE": .moderator, "POLICY": .moderator, "APPROVE": .moderator,
    ]

    /// Why `privileges` (nil before LOGIN) may not run `verb`, or nil when it may. `cluster` is the
    /// cluster the command names (by its room or cluster argument), `joined` whether the session has
    /// joined the room it names. Order: AUTH_REQUIRED, then FORBIDDEN, then NOT_JOINED.
    public static func check(verb: String, privileges: Privileges?, cluster: String?, joined: Bool) -> DomainError? {
        guard let access = table[verb] else {
            return DomainError(.unknownCommand, "\(verb) is not served here")
        }
        if access == .anyone { return nil }
        guard let privileges else {
            return DomainError(.authRequired, "LOGIN first (or REGISTER, then LOGIN)")
        }
        switch access {
        case .anyone, .login:
            return nil
        case .joined:
            return joined ? nil : notJoined
        case .botOrModeratorJoined:
            guard privileges.role == .bot || privileges.moderates(cluster) else {
                return DomainError(.forbidden, "\(verb) is for bots, facilitators of the cluster and admins")
            }
            return joined ? nil : notJoined
        case .moderator:
            return privileges.moderates(cluster) ? nil
                : DomainError(.forbidden, "\(verb) is for facilitators of the cluster and admins")
        case .admin:
            return privileges.role == .admin ? nil : DomainError(.forbidden, "\(verb) is for admins")
        }
    }

    private static let notJoined = DomainError(.notJoined, "JOIN the room first")
}
