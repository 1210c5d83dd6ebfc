/// What an account may do. `member`, `bot` and `admin` are account roles; `facilitator` is granted per
/// cluster (see `Privileges`) and is what LOGIN reports for a member who facilitates a cluster.
public enum Role: String, Sendable, Codable, CaseIterable {
    case member, facilitator, bot, admin
}

/// Who may create accounts, from the server config.
public enum RegistrationPolicy: String, Sendable, Codable, CaseIterable {
    /// Anyone may REGISTER (the local demo).
    case open
    /// REGISTER needs `invite=<code>`; each code is single use.
    case invite
    /// No new accounts over the wire.
    case closed
}

/// Who may become a new member of a cluster (join its rooms for the first time), set by its facilitators.
public enum MembershipPolicy: String, Sendable, Codable, CaseIterable {
    /// Any account may join.
    case open
    /// A facilitator approves each new member (APPROVE), or invites it (INVITE).
    case approval
    /// No new members; existing ones stay.
    case closed
}
