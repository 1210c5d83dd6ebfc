import PartnerlineProtocol

/// All accounts, rebuilt from the server-wide journal, and the rules for creating one. Pure; no I/O.
public struct AccountRegistry: Sendable {
    public internal(set) var accounts: [String: Account] = [:]
    public internal(set) var usedInvites: Set<String> = []
    /// Clusters each account facilitates.
    public internal(set) var facilitators: [String: Set<String>] = [:]
    /// Invite codes made by facilitators (INVITE), with the cluster each welcomes into.
    public internal(set) var createdInvites: [String: String?] = [:]
    /// The cluster an account was invited to, when it registered with a facilitator's code.
    public internal(set) var invitedTo: [String: String] = [:]

    public static let minimumPasswordLength = 8
    public static let maximumPasswordLength = 256

    public init() {}

    public func account(named name: String) -> Account? { accounts[name] }

    public func privileges(of name: String) -> Privileges? {
        guard let account = accounts[name] else { return nil }
        return Privileges(role: account.role, facilitates: facilitators[name] ?? [])
    }

    public mutating func apply(_ entry: JournalEntry) throws {
        switch entry {
        case .accountRegistered(let account, let invite):
            guard accounts[account.name] == nil else {
                throw ReplayError("account \(account.name) registered twice")
            }
            accounts[account.name] = account
            if let invite {
                usedInvites.insert(invite)
                if let cluster = createdInvites[invite] ?? nil { invitedTo[account.name] = cluster }
            }
        case .inviteCreated(let code, let cluster, _, _):
            createdInvites[code] = cluster
        case .roleGranted(let name, let role, let cluster, _, _):
            guard accounts[name] != nil else { throw ReplayError("role granted to unknown account \(name)") }
            if role == .facilitator {
                if let cluster { facilitators[name, default: []].insert(cluster) }
            } else {
                accounts[name]!.role = role
            }
        case .roleRevoked(let name, let role, let cluster, _, _):
            guard accounts[name] != nil else { throw ReplayError("role revoked from unknown account \(name)") }
            if role == .facilitator {
                if let cluster { facilitators[name]?.remove(cluster) }
            } else if accounts[name]!.role == role {
                accounts[name]!.role = .member
            }
        case .event, .memberJoined, .memberLeft, .readMarker, .roomCreated, .topicSet, .muted, .unmuted, .membershipPolicy,
             .memberApproved, .joinRequested, .requestDenied:
            throw ReplayError("non-account record in the server journal")
        }
    }

    /// Checks a GRANT or REVOKE by `actor` before it is stored. Facilitators of a cluster may make
    /// and unmake facilitators of that cluster; only admins give or take bot and admin.
    public func checkRoleChange(grant: Bool, account: String, role: Role, cluster: String?, actor: Privileges,
                                actorName: String, knownClusters: Set<String>) -> DomainError? {
        guard let target = accounts[account] else { return DomainError(.noSuchAccount, "no account \(account)") }
        switch role {
        case .member:
            return DomainError(.badSyntax, "member is what every account is; grant facilitator, bot or admin")
        case .facilitator:
            guard let cluster else {
                return DomainError(.badSyntax, "facilitator is per cluster: add cluster=<cluster>")
            }
            guard knownClusters.contains(cluster) else { return DomainError(.noSuchCluster, "no cluster \(cluster)") }
            guard actor.moderates(cluster) else {
                return DomainError(.forbidden, "only facilitators of \(cluster) and admins make facilitators there")
            }
            let has = facilitators[account]?.contains(cluster) ?? false
            if grant == has {
                return DomainError(.invalidState, "\(account) \(has ? "already facilitates" : "does not facilitate") \(cluster)")
            }
        case .bot, .admin:
            guard cluster == nil else { return DomainError(.badSyntax, "\(role.rawValue) is server-wide: drop cluster=") }
            guard actor.role == .admin else { return DomainError(.forbidden, "only admins give or take the \(role.rawValue) role") }
            if grant, target.role == role { return DomainError(.invalidState, "\(account) is already \(role.rawValue)") }
            if !grant, target.role != role { return DomainError(.invalidState, "\(account) is not \(role.rawValue)") }
            if grant, target.role != .member {
                return DomainError(.invalidState, "\(account) is \(target.role.rawValue); REVOKE that first")
            }
            if !grant, role == .admin, account == actorName {
                return DomainError(.invalidState, "an admin cannot revoke their own admin role")
            }
        }
        return nil
    }

    /// Checks a REGISTER before any password is hashed. `inviteCodes` are the codes currently valid.
    public func checkRegistration(account: String, password: String, organisation: String?, invite: String?,
                                  policy: RegistrationPolicy, inviteCodes: Set<String>) -> DomainError? {
        guard Names.isValidAccount(account) else {
            return DomainError(.badSyntax, "account names are 2-32 characters of a-z, 0-9 and '-', starting with a letter or digit")
        }
        let length = password.unicodeScalars.count
        guard length >= Self.minimumPasswordLength, length <= Self.maximumPasswordLength else {
            return DomainError(.badSyntax, "passwords are \(Self.minimumPasswordLength) to \(Self.maximumPasswordLength) characters")
        }
        if let organisation, organisation.unicodeScalars.count > 200 {
            return DomainError(.badSyntax, "org names are at most 200 characters")
        }
        switch policy {
        case .closed:
            return DomainError(.registrationClosed, "registration is closed on this server; ask its operator for an account")
        case .invite:
            guard let invite else {
                return DomainError(.registrationClosed, "registration needs an invite code: REGISTER <account> <password> invite=<code>")
            }
            guard inviteCodes.contains(invite) || createdInvites[invite] != nil, !usedInvites.contains(invite) else {
                return DomainError(.registrationClosed, "that invite code is not valid or was already used")
            }
        case .open:
            break
        }
        guard accounts[account] == nil else {
            return DomainError(.accountExists, "account \(account) already exists")
        }
        return nil
    }
}
