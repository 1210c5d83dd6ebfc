import PartnerlineProtocol

/// All accounts, rebuilt from the server-wide journal, and the rules for creating one. Pure; no I/O.
public struct AccountRegistry: Sendable {
    public private(set) var accounts: [String: Account] = [:]
    public private(set) var usedInvites: Set<String> = []

    public static let minimumPasswordLength = 8
    public static let maximumPasswordLength = 256

    public init() {}

    public func account(named name: String) -> Account? { accounts[name] }

    public mutating func apply(_ entry: JournalEntry) throws {
        guard case .accountRegistered(let account, let invite) = entry else {
            throw ReplayError("non-account record in the server journal")
        }
        guard accounts[account.name] == nil else {
            throw ReplayError("account \(account.name) registered twice")
        }
        accounts[account.name] = account
        if let invite { usedInvites.insert(invite) }
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
            guard inviteCodes.contains(invite), !usedInvites.contains(invite) else {
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
