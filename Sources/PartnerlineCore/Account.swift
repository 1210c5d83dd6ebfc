/// An organisation's account. The password is held only as a self-describing hash string
/// (algorithm and parameters beside the salt and digest), never in clear.
public struct Account: Sendable, Equatable {
    public var name: String
    public var organisation: String
    public var role: Role
    public var passwordHash: String
    public var createdMillis: Int64

    public init(name: String, organisation: String, role: Role, passwordHash: String, createdMillis: Int64) {
        self.name = name
        self.organisation = organisation
        self.role = role
        self.passwordHash = passwordHash
        self.createdMillis = createdMillis
    }
}
