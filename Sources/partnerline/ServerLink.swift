import Foundation
import PartnerlineClient
#if canImport(Glibc)
import Glibc
#endif

/// What the connection reports to the client, in order.
enum LinkEvent: Sendable {
    /// TLS handshake done (or TCP connected, for plaintext); the server certificate's SHA-256.
    case ready(fingerprint: String?)
    case line(String)
    case closed(String)
}

/// The seam between the terminal client and its connection: lines out, events in.
protocol ServerLink: AnyObject, Sendable {
    /// One command line (no line end).
    func send(_ line: String)
    func close()
}

/// Events from the connection's queue to the thread that owns the client: a locked queue plus
/// a pipe whose read end the event loop polls (one byte per wake-up, not per line).
typealias Inbox = Mailbox<LinkEvent>

final class Mailbox<Event: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var events: [Event] = []
    private var signalled = false
    let readFD: Int32
    private let writeFD: Int32

    init() {
        (readFD, writeFD) = makeWakePipe()
    }

    deinit {
        _ = Glibc.close(readFD)
        _ = Glibc.close(writeFD)
    }

    func post(_ event: Event) {
        condition.lock()
        events.append(event)
        let wake = !signalled
        signalled = true
        condition.signal()
        condition.unlock()
        if wake {
            var byte: UInt8 = 0
            _ = Glibc.write(writeFD, &byte, 1)
        }
    }

    /// Everything posted so far (empties the pipe too).
    func drain() -> [Event] {
        var scratch = [UInt8](repeating: 0, count: 64)
        while Glibc.read(readFD, &scratch, scratch.count) > 0 {}
        condition.lock()
        defer { condition.unlock() }
        signalled = false
        let out = events
        events = []
        return out
    }

    /// Waits for the next event until `deadline` (batch mode); nil on time-out.
    func next(until deadline: Date) -> Event? {
        condition.lock()
        defer { condition.unlock() }
        while events.isEmpty {
            if !condition.wait(until: deadline) { return nil }
        }
        signalled = false
        return events.removeFirst()
    }
}

/// How the server's identity is checked for one connection.
enum TrustMode: Sendable, Equatable {
    /// Chain verified against this CA file (the server's own certificate works, for self-signed).
    case caFile(String)
    /// Trust on first use: the fingerprint is recorded in the file, and a changed one refused.
    case knownHosts(String)
    /// No check at all (a warning on every start).
    case insecure
    /// No TLS: loopback only.
    case plain
}

/// The link over the client library's `PartnerlineConnection`: it checks the server (CA file
/// with the host name, or known-hosts trust on first use), answers PING, and matches replies to
/// commands by its own tags. The client speaks raw lines on both sides of this seam (its model
/// keeps its own tags to know what a reply is for), so a command line is handed over as a
/// `ClientCommand` that encodes to the same bytes, and each reply line is written back as text
/// with the client's tag (`ServerMessageText`).
final class TransportLink: ServerLink, @unchecked Sendable {
    private let connection: PartnerlineConnection
    private let inbox: Inbox

    private init(connection: PartnerlineConnection, inbox: Inbox) {
        self.connection = connection
        self.inbox = inbox
    }

    /// Connects, checks the server and waits for its greeting (blocking, bounded by
    /// `timeoutSeconds`); then `.ready` and the HELLO line are in `inbox`, and every later line.
    static func open(host: String, port: Int, trust: TrustMode, inbox: Inbox, timeoutSeconds: Int = 10) throws -> TransportLink {
        let options = Self.options(host: host, port: port, trust: trust, timeoutSeconds: timeoutSeconds)
        let result = Mailbox<Result<PartnerlineConnection, ConnectionError>>()
        Task {
            do {
                result.post(.success(try await PartnerlineConnection.connect(options)))
            } catch {
                result.post(.failure((error as? ConnectionError) ?? ConnectionError(.connect, "\(error)")))
            }
        }
        guard let outcome = result.next(until: Date().addingTimeInterval(Double(timeoutSeconds) * 3 + 5)) else {
            throw ClientError("no answer from \(options.hostPort) within \(timeoutSeconds) s")
        }
        switch outcome {
        case .failure(let error):
            throw failure(error, hostPort: options.hostPort, trust: trust)
        case .success(let connection):
            let link = TransportLink(connection: connection, inbox: inbox)
            inbox.post(.ready(fingerprint: connection.serverFingerprint))
            inbox.post(.line(ServerMessageText.line(.hello(connection.hello), tag: nil)))
            Task {
                for await message in connection.messages {
                    inbox.post(.line(ServerMessageText.line(message, tag: nil)))
                }
                let why = await connection.closed()
                inbox.post(.closed(why.message))
            }
            return link
        }
    }

    /// A connection failure as a sentence for the user; `final` when retrying cannot mend it.
    static func failure(_ error: ConnectionError, hostPort: String, trust: TrustMode) -> ClientError {
        switch error.kind {
        case .untrustedServer: return ClientError(error.message, final: true)
        case .tls:
            var text = "connection to \(hostPort) failed: \(error.message)"
            if case .caFile(let path) = trust { text += " (the server's certificate could not be verified with \(path))" }
            return ClientError(text, final: true)
        case .plaintextNotLoopback: return ClientError(error.message, final: true)
        default: return ClientError("cannot connect to \(hostPort): \(error.message)")
        }
    }

    /// The library's connection options for a trust mode (shared with `SessionLink`).
    static func options(host: String, port: Int, trust: TrustMode, timeoutSeconds: Int) -> ConnectionOptions {
        let security: ConnectionOptions.Security
        switch trust {
        case .plain: security = .plaintextLoopback
        case .caFile(let path): security = .tls(.certificateAuthority(file: path))
        case .knownHosts(let path): security = .tls(.knownHosts(file: path))
        case .insecure:
            // A known-hosts file of its own for every start: whatever certificate is presented
            // first is taken. That is what --insecure means (and it is warned about on every start).
            security = .tls(.knownHosts(file: NSTemporaryDirectory() + "partnerline-insecure-\(UUID().uuidString)"))
        }
        return ConnectionOptions(host: host, port: port, security: security, timeoutSeconds: timeoutSeconds)
    }

    /// A `@tag COMMAND ...` line cut into its tag and the command.
    static func split(_ line: String) -> (tag: String?, command: ClientCommand?) {
        var rest = Substring(line)
        var tag: String?
        if rest.hasPrefix("@"), let space = rest.firstIndex(of: " ") {
            tag = String(rest[rest.index(after: rest.startIndex)..<space])
            rest = rest[rest.index(after: space)...]
        }
        return (tag, command(String(rest)))
    }

    func send(_ line: String) {
        let (tag, command) = Self.split(line)
        guard let command else { return }
        let connection = self.connection, inbox = self.inbox
        Task {
            do {
                let reply = try await connection.send(command)
                for message in reply.lines + [reply.final] {
                    inbox.post(.line(ServerMessageText.line(message, tag: tag)))
                }
            } catch {
                if let tag, let error = error as? ConnectionError, error.kind == .encoding {
                    inbox.post(.line("@\(tag) ERR BAD_SYNTAX \(command.verb.uppercased()) :\(error.message)"))
                }
                // A closed connection is reported once, by the message loop.
            }
        }
    }

    /// A typed line as a command that encodes to the same bytes: the words before ` :` as
    /// arguments (the encoder sends them bare, one space apart), the rest as the text.
    static func command(_ line: String) -> ClientCommand? {
        var head = Substring(line)
        var text: String?
        if let colon = line.range(of: " :") {
            head = line[..<colon.lowerBound]
            text = String(line[colon.upperBound...])
        }
        let words = head.split(separator: " ").map(String.init)
        guard let verb = words.first else { return nil }
        return ClientCommand(verb, Array(words.dropFirst()), text: text)
    }

    func close() {
        connection.close()
    }
}

/// A server line written back as text, quoted by the server's own rule (`ClientCommand.needsQuotes`),
/// with the client's tag: what non-interactive mode prints and the model reads.
enum ServerMessageText {
    static func line(_ message: ServerMessage, tag: String?) -> String {
        var out = tag.map { "@\($0) " } ?? ""
        func fields(_ fields: [ServerLineField]) {
            for field in fields {
                out += " \(field.key)="
                if ClientCommand.needsQuotes(field.value) {
                    out += "\"" + field.value.replacingOccurrences(of: "\\", with: "\\\\")
                        .replacingOccurrences(of: "\"", with: "\\\"") + "\""
                } else {
                    out += field.value
                }
            }
        }
        func text(_ value: String?) {
            if let value { out += " :" + value }
        }
        switch message {
        case .hello(let hello):
            out += "HELLO \(hello.protocolVersion) \(hello.serverName)"
            text(hello.text)
        case .ok(let reply):
            out += "OK \(reply.verb)"
            fields(reply.fields)
            text(reply.text)
        case .error(let error):
            out += "ERR \(error.code) \(error.verb)"
            text(error.message)
        case .event(let event):
            out += "EV \(event.room) \(event.seq) \(event.time) \(event.actor) \(event.kind)"
            fields(event.fields)
            text(event.text)
        case .data(let data):
            out += (["*", data.word] + data.arguments).joined(separator: " ")
            fields(data.fields)
            text(data.text)
        case .ping(let token):
            out += "PING \(token)"
        case .read(let marker):
            out += "READ \(marker.room) \(marker.seq)"
        case .notice(let value):
            out += "NOTICE"
            text(value)
        case .bye(let bye):
            out += "BYE \(bye.code)"
            text(bye.text)
        case .unknown(let tokens):
            out += ([tokens.word] + tokens.arguments).joined(separator: " ")
            fields(tokens.fields)
            text(tokens.text)
        }
        return out
    }
}

/// A non-blocking, close-on-exec pipe (pipe2 is a GNU extension Swift's Glibc does not show).
func makeWakePipe() -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { return (-1, -1) }
    for fd in fds {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }
    return (fds[0], fds[1])
}
