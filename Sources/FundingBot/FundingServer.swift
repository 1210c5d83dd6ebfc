import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The bot's side of the server, as the poster needs it. The bot's logic talks only to this, so the
/// stages above it are tested without a socket and the connection underneath can change.
public protocol FundingServer: AnyObject {
    /// Connects, checks the server, logs in. Throws `ServerError.unreachable` when no connection
    /// could be made, `.refused` when the server said no (a wrong password, say).
    func connect() throws -> LoginOutcome
    /// JOIN (a member's repeat JOIN just answers OK again).
    func join(_ room: String) throws -> ServerAnswer
    func post(_ alert: FundingAlert) throws -> ServerAnswer
    /// A PING of our own while idle: shows the server we are here, and notices a dead connection.
    func ping() throws
    func close()
}

public struct LoginOutcome: Sendable, Equatable {
    public var account: String
    public var role: String
}

/// A final reply, as the poster needs it: `OK <VERB> k=v ...` or `ERR <CODE> <VERB> :message`.
public enum ServerAnswer: Sendable, Equatable {
    case ok(fields: [String: String])
    case err(code: String, message: String)
}

/// What the server made of one FUNDING.
public enum PostOutcome: Sendable, Equatable {
    case posted(id: String, seq: UInt64)
    /// The server already had this ref in the room's cluster: nothing stored.
    case duplicate(id: String, seq: UInt64)
    case refused(code: String, message: String)

    public init(_ reply: ServerAnswer) {
        switch reply {
        case .ok(let fields):
            let id = fields["id"] ?? "?"
            let seq = fields["seq"].flatMap(UInt64.init) ?? 0
            self = fields["duplicate"] == "yes" ? .duplicate(id: id, seq: seq) : .posted(id: id, seq: seq)
        case .err(let code, let message):
            self = .refused(code: code, message: message)
        }
    }
}

public enum ServerError: Error, CustomStringConvertible, Equatable {
    /// No connection (refused, no route, TLS check failed): retried with backoff.
    case unreachable(String)
    /// The connection broke mid-conversation: reconnect and go on.
    case dropped(String)
    /// The server answered no to LOGIN: retrying will not help until the config changes.
    case refused(String)

    public var description: String {
        switch self {
        case .unreachable(let why): "server unreachable: \(why)"
        case .dropped(let why): "connection dropped: \(why)"
        case .refused(let why): "login refused: \(why)"
        }
    }
}

/// How the bot proves who it is.
public enum Credentials: Sendable, Equatable {
    case certificate(certificateFile: String, keyFile: String)
    case password(String)

    /// A client certificate if configured, else `PARTNERLINE_PASSWORD`, else the `password_file`,
    /// which must not be readable by group or others (like ssh's private keys).
    public static func resolve(_ auth: BotConfig.Auth, environment: [String: String]) throws -> Credentials {
        if let certificate = auth.certificateFile, let key = auth.keyFile {
            for file in [certificate, key] where !FileManager.default.isReadableFile(atPath: file) {
                throw ConfigError("auth: cannot read \(file)")
            }
            return .certificate(certificateFile: certificate, keyFile: key)
        }
        if let password = environment["PARTNERLINE_PASSWORD"], !password.isEmpty { return .password(password) }
        guard let file = auth.passwordFile else {
            throw ConfigError("auth: no way to log in: set certificate_file and key_file, PARTNERLINE_PASSWORD, or password_file")
        }
        var info = stat()
        guard stat(file, &info) == 0 else { throw ConfigError("auth.password_file \(file): \(String(cString: strerror(errno)))") }
        guard info.st_mode & 0o077 == 0 else {
            throw ConfigError("auth.password_file \(file) can be read by others (mode \(String(info.st_mode & 0o777, radix: 8))): chmod 600 \(file)")
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
              let password = text.split(whereSeparator: \.isNewline).first.map(String.init), !password.isEmpty else {
            throw ConfigError("auth.password_file \(file) is empty")
        }
        return .password(password)
    }
}
