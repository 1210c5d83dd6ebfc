import Dispatch
import Foundation
import Logging
import PartnerlineClient

/// The bot's connection, on the client library's `PartnerlineConnection`: TLS with the server
/// checked by CA file, pinned fingerprint or known-hosts file, optional client certificate, replies
/// matched by tag, server PINGs answered by the library. The bot's runner is a plain sequential
/// program, so each call here waits for its reply on the calling thread (never a cooperative one).
/// Lines that are not replies (the bot's own EVs, notices) are drained and logged at debug level,
/// so they never pile up in the library's buffer.
public final class ClientLibraryLink: FundingServer {
    public let options: ConnectionOptions
    let account: String
    let credentials: Credentials
    let log: Logger
    private var connection: PartnerlineConnection?
    /// For `insecure`: a known-hosts file made empty before every connection, so whatever
    /// certificate the server shows is taken (the library has no "no check" mode, by design).
    private let insecureKnownHosts: String?

    public init(config: BotConfig, credentials: Credentials, log: Logger) {
        let certificate: ClientCertificate?
        if case .certificate(let file, let key) = credentials {
            certificate = ClientCertificate(certificateFile: file, privateKeyFile: key)
        } else {
            certificate = nil
        }
        let trust: ServerTrust
        var insecureFile: String?
        switch config.serverCheck {
        case .caFile(let file): trust = .certificateAuthority(file: file)
        case .knownHosts(let file): trust = .knownHosts(file: file)
        case .pinned(let sha256): trust = .pinnedFingerprint(sha256)
        case .insecure:
            let file = NSTemporaryDirectory() + "partnerline-fundingbot-insecure-\(getpid())-\(UUID().uuidString)"
            insecureFile = file
            trust = .knownHosts(file: file)
        }
        insecureKnownHosts = insecureFile
        options = ConnectionOptions(host: config.host, port: config.port, security: .tls(trust, clientCertificate: certificate),
                                    timeoutSeconds: max(5, Int(config.fetch.timeoutSeconds)), maxLineBytes: config.posting.maxLineBytes)
        account = config.account
        self.credentials = credentials
        self.log = log
    }

    deinit {
        connection?.close()
        if let insecureKnownHosts { try? FileManager.default.removeItem(atPath: insecureKnownHosts) }
    }

    public func connect() throws -> LoginOutcome {
        close()
        if let insecureKnownHosts { try? FileManager.default.removeItem(atPath: insecureKnownHosts) }
        let options = self.options
        let fresh: PartnerlineConnection
        do {
            fresh = try Blocking.run { () async throws -> PartnerlineConnection in try await PartnerlineConnection.connect(options) }
        } catch let error as ConnectionError {
            switch error.kind {
            case .untrustedServer: throw ServerError.refused("\(options.hostPort): \(error.message)")
            default: throw ServerError.unreachable("\(options.hostPort): \(error.message)")
            }
        }
        connection = fresh
        let log = self.log
        Task.detached {
            for await message in fresh.messages { log.debug("server: \(message)") }
        }
        let password: String
        switch credentials {
        case .certificate: password = "*"
        case .password(let secret): password = secret
        }
        switch try send(.login(account, password: password)) {
        case .ok(let fields):
            return LoginOutcome(account: fields["account"] ?? account, role: fields["role"] ?? "?")
        case .err(let code, let message):
            close()
            throw ServerError.refused("\(code): \(message)")
        }
    }

    public func join(_ room: String) throws -> ServerAnswer {
        try send(.join(room))
    }

    public func post(_ alert: FundingAlert) throws -> ServerAnswer {
        try send(alert.command)
    }

    public func ping() throws {
        _ = try send(.ping("fundingbot"))
    }

    public func close() {
        connection?.close()
        connection = nil
    }

    private func send(_ command: ClientCommand) throws -> ServerAnswer {
        guard let connection else { throw ServerError.dropped("not connected") }
        let reply: CommandReply
        do {
            reply = try Blocking.run { () async throws -> CommandReply in try await connection.send(command) }
        } catch let error as ConnectionError where error.kind == .encoding {
            // Nothing was sent; the connection is fine. Say so as a refusal of this one command.
            return .err(code: "ENCODING", message: error.message)
        } catch {
            self.connection = nil
            connection.close()
            throw ServerError.dropped("\(error)")
        }
        switch reply.final {
        case .ok(let ok):
            return .ok(fields: Dictionary(ok.fields.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first }))
        case .error(let error):
            return .err(code: error.code, message: error.message)
        default:
            self.connection = nil
            connection.close()
            throw ServerError.dropped("the server closed the connection")
        }
    }
}

extension FundingAlert {
    /// The alert as the client library's command (which quotes and checks every value).
    public var command: ClientCommand {
        .funding(room, funder: funder, title: text, ref: ref, amount: amount, deadline: deadline, url: url, tags: tags)
    }
}

/// Runs async library calls from the bot's plain thread and waits for them.
enum Blocking {
    private final class Box<T>: @unchecked Sendable {
        var result: Result<T, Error>?
    }

    static func run<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                box.result = .success(try await body())
            } catch {
                box.result = .failure(error)
            }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }
}
