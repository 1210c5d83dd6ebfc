import Foundation
import PartnerlineTransport

/// The bot's connection: TLS to `server`, the server checked by CA file, known-hosts fingerprint
/// (trust on first use) or not at all; LOGIN by client certificate (`*`) or password; one command
/// at a time, reading to its final line. Lines that are not part of the reply are handled on the
/// way: `PING` is answered with `PONG`, events and notices are passed over, `BYE` ends the
/// connection. Any I/O failure closes it and throws `ServerError.dropped`; the poster reconnects.
public final class LineServerLink: FundingServer {
    public let host: String
    public let port: Int
    public let account: String
    let check: BotConfig.ServerCheck
    let credentials: Credentials
    let timeoutSeconds: Double
    let onLine: (String) -> Void
    private var client: BlockingLineClient?

    /// `onLine` sees every line that is not a reply (events, notices), for the log.
    public init(host: String, port: Int, account: String, check: BotConfig.ServerCheck, credentials: Credentials,
                timeoutSeconds: Double = 30, onLine: @escaping (String) -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.account = account
        self.check = check
        self.credentials = credentials
        self.timeoutSeconds = timeoutSeconds
        self.onLine = onLine
    }

    public func connect() throws -> LoginOutcome {
        close()
        let certificate: (String, String)?
        if case .certificate(let cert, let key) = credentials { certificate = (cert, key) } else { certificate = nil }
        let caFile: String?
        if case .caFile(let file) = check { caFile = file } else { caFile = nil }
        let fresh: BlockingLineClient
        do {
            fresh = try BlockingLineClient(host: host, port: port, tls: true, caFile: caFile, timeoutSeconds: timeoutSeconds,
                                           certificatePath: certificate?.0, privateKeyPath: certificate?.1)
        } catch {
            throw ServerError.unreachable("\(host):\(port): \(error)")
        }
        if case .knownHosts(let file) = check {
            guard let fingerprint = fresh.peerCertificateSHA256Hex() else {
                fresh.close()
                throw ServerError.unreachable("\(host):\(port): no server certificate")
            }
            do {
                try KnownHosts(path: file).check(host: "\(host):\(port)", fingerprint: fingerprint)
            } catch {
                fresh.close()
                throw ServerError.refused("\(error)")
            }
        }
        client = fresh
        do {
            let hello = try fresh.readLine()
            guard hello.hasPrefix("HELLO ") else { throw ServerError.dropped("expected HELLO, got '\(hello)'") }
        } catch let error as ServerError {
            close()
            throw error
        } catch {
            close()
            throw ServerError.dropped("\(error)")
        }
        let password: String
        switch credentials {
        case .certificate: password = "*"
        case .password(let secret): password = secret
        }
        switch try command("LOGIN \(account) \(password)") {
        case .ok(let fields):
            return LoginOutcome(account: fields["account"] ?? account, role: fields["role"] ?? "?")
        case .err(let code, let message):
            close()
            throw ServerError.refused("\(code): \(message)")
        }
    }

    public func join(_ room: String) throws -> Reply {
        try command("JOIN \(room)")
    }

    public func post(_ alert: FundingAlert) throws -> Reply {
        try command(alert.line)
    }

    /// A PING of our own, so an idle connection shows it is alive (and a dead one is noticed).
    public func ping() throws {
        _ = try command("PING fundingbot")
    }

    public func close() {
        client?.close()
        client = nil
    }

    private func command(_ line: String) throws -> Reply {
        guard let client else { throw ServerError.dropped("not connected") }
        do {
            try client.send(line: line)
            while true {
                let received = try client.readLine()
                if let reply = Reply(line: received) { return reply }
                if received.hasPrefix("PING") {
                    let token = received.split(separator: " ").dropFirst().first.map(String.init) ?? "x"
                    try client.send(line: "PONG \(token)")
                } else if received.hasPrefix("BYE") {
                    throw ServerError.dropped(received)
                } else {
                    onLine(received)
                }
            }
        } catch let error as ServerError {
            close()
            throw error
        } catch {
            close()
            throw ServerError.dropped("\(error)")
        }
    }
}

/// `known_hosts` for servers: one `host:port sha256-hex` per line. The first connection to a server
/// records its certificate's fingerprint; a later different one is refused (a changed certificate is
/// either a renewal the operator confirms by deleting the line, or someone in the middle).
public struct KnownHosts {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func check(host: String, fingerprint: String) throws {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, String(parts[0]) == host else { continue }
            guard String(parts[1]).lowercased() == fingerprint.lowercased() else {
                throw ConfigError("""
                    the certificate of \(host) changed: known_hosts \(path) has \(parts[1]), the server shows \(fingerprint). \
                    If the server's certificate was renewed, delete that line; otherwise someone may be in the middle.
                    """)
            }
            return
        }
        let entry = "\(host) \(fingerprint.lowercased())\n"
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ConfigError("cannot write known_hosts \(path)") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(entry.utf8))
        try handle.synchronize()
    }
}
