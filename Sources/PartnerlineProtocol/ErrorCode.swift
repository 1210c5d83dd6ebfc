/// Stable upper-case error codes, as written in `ERR <CODE> <VERB> :<message>`
/// (spec "Error codes (v1)"). New codes may be added; clients treat an unknown
/// code as a failure of that command.
public enum ErrorCode: String, Sendable, CaseIterable {
    case badSyntax = "BAD_SYNTAX"
    case unknownCommand = "UNKNOWN_COMMAND"
    case lineTooLong = "LINE_TOO_LONG"
    case badEncoding = "BAD_ENCODING"
    case authRequired = "AUTH_REQUIRED"
    case authFailed = "AUTH_FAILED"
    case accountExists = "ACCOUNT_EXISTS"
    case registrationClosed = "REGISTRATION_CLOSED"
    case plaintextRefused = "PLAINTEXT_REFUSED"
    case noSuchCluster = "NO_SUCH_CLUSTER"
    case noSuchRoom = "NO_SUCH_ROOM"
    case noSuchItem = "NO_SUCH_ITEM"
    case notJoined = "NOT_JOINED"
    case forbidden = "FORBIDDEN"
    case invalidState = "INVALID_STATE"
    case rateLimited = "RATE_LIMITED"
    case tooManyConnections = "TOO_MANY_CONNECTIONS"
    case storage = "STORAGE"
    case `internal` = "INTERNAL"
    /// Added by the project (the spec allows new codes): GRANT/REVOKE name an account that does not exist.
    case noSuchAccount = "NO_SUCH_ACCOUNT"
}
