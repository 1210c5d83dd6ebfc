import Dispatch
import Foundation
import PartnerlineTransport

/// Why a connection could not be made, or ended, or a command could not be sent.
public struct ConnectionError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// DNS or TCP connect failed.
        case connect
        /// The TLS handshake was refused: a certificate not verified by its CA or not for this
        /// name, an alert from the server (protocol version, cipher). Final: never retried.
        case tls
        /// The server went away during the TLS handshake (EOF, connection reset, broken pipe):
        /// a transport failure like a refused connect (a server restarting, a proxy dropping
        /// connections), not a refusal. `PartnerlineSession` retries it with its backoff.
        case handshakeInterrupted
        /// A pinned or known-hosts fingerprint did not match: never retried silently.
        case untrustedServer
        /// Plaintext was asked for, but the address reached is not loopback.
        case plaintextNotLoopback
        /// No greeting within the timeout.
        case timedOut
        /// The connection ended (the server closed it, said BYE, or `close()` was called).
        case closed
        /// The command could not be encoded, or was longer than the line limit; nothing was sent.
        case encoding
    }

    public var kind: Kind
    public var message: String
    /// The server's `BYE` before it closed, if it sent one (`SHUTDOWN`, `QUIT`, ...).
    public var bye: Bye?

    public init(_ kind: Kind, _ message: String, bye: Bye? = nil) {
        self.kind = kind
        self.message = message
        self.bye = bye
    }

    public var description: String { message }
}

/// The whole reply to one command: the lines that carried its tag (data lines, HISTORY's EVs)
/// and the final line (`OK`, `ERR`, or `BYE` for `QUIT`).
public struct CommandReply: Sendable, Hashable {
    /// The tag the library gave the command (`c1`, `c2`, ...).
    public var tag: String
    /// Every line of the reply before the final one, in order.
    public var lines: [ServerMessage]
    /// `.ok`, `.error`, or `.bye` (the answer to QUIT).
    public var final: ServerMessage

    public init(tag: String, lines: [ServerMessage], final: ServerMessage) {
        self.tag = tag
        self.lines = lines
        self.final = final
    }

    /// The OK, nil if the command failed.
    public var ok: Reply? { if case .ok(let reply) = final { reply } else { nil } }
    /// The ERR, nil if the command succeeded.
    public var error: ErrorReply? { if case .error(let error) = final { error } else { nil } }
    /// The `* ` data lines.
    public var data: [DataLine] { lines.compactMap { if case .data(let line) = $0 { line } else { nil } } }
    /// The EV lines (HISTORY).
    public var events: [Event] { lines.compactMap { if case .event(let event) = $0 { event } else { nil } } }

    /// The OK, or throws the `ErrorReply`: for code that treats a refusal as an error. QUIT's
    /// `BYE QUIT` counts as its OK (verb `QUIT`, the BYE's text).
    @discardableResult
    public func checked() throws(ErrorReply) -> Reply {
        switch final {
        case .ok(let reply): return reply
        case .error(let error): throw error
        case .bye(let bye) where bye.code == "QUIT": return Reply(tag: bye.tag, verb: "QUIT", text: bye.text)
        case .bye(let bye): throw ErrorReply(tag: bye.tag, code: bye.code, verb: "*", message: bye.text)
        default: throw ErrorReply(tag: tag, code: "CLOSED", verb: "*", message: "the server closed the connection")
        }
    }
}

/// One connection to a Partnerline server, for programs: bots, the terminal client, tools.
///
/// ## Concurrency
/// The socket is a non-blocking `PartnerlineTransport.Connection` on a Dispatch queue of its own;
/// all of this connection's state lives on that queue. The API is async/await:
/// `send(_:)` suspends only its caller until the reply is complete, and unsolicited lines arrive
/// on the `messages` stream. Why this shape:
/// - a bot reads top to bottom: `try await connection.send(.login(...))`, then a loop over
///   `messages`;
/// - a terminal UI keeps reading keystrokes on its own task (or thread) while a command is
///   outstanding and events stream in: nothing here blocks a thread, and replies and events
///   are values (`Sendable`) it can hand to its drawing code;
/// - several tasks may send at once: lines go out in call order, and each reply finds its
///   caller by tag, never by guessing.
/// PING is answered on the queue itself, so a busy or suspended consumer is never dropped for
/// not answering.
///
/// Cancelling a task that awaits `send` does not recall the command (it is on the wire); the
/// reply is still read and dropped.
public final class PartnerlineConnection: Sendable {
    /// The server's greeting.
    public let hello: Hello
    /// SHA-256 of the server's certificate (nil for plaintext).
    public let serverFingerprint: String?
    /// Lines that are not part of a reply to this connection's commands: live `EV`s (the poster's
    /// own included), `READ`, `NOTICE`, `BYE`, lines of unknown kind. Finishes when the connection
    /// ends. One consumer; lines are buffered until read.
    public let messages: AsyncStream<ServerMessage>

    private let core: ConnectionCore

    private init(core: ConnectionCore, hello: Hello, fingerprint: String?, messages: AsyncStream<ServerMessage>) {
        self.core = core
        self.hello = hello
        self.serverFingerprint = fingerprint
        self.messages = messages
    }

    deinit {
        core.ownerGone()
    }

    /// Connects, checks the server (per `options.security`) and waits for its greeting.
    public static func connect(_ options: ConnectionOptions) async throws(ConnectionError) -> PartnerlineConnection {
        TransportSetup.ignoreSIGPIPE()
        let (stream, continuation) = AsyncStream<ServerMessage>.makeStream(bufferingPolicy: .unbounded)
        let core: ConnectionCore
        do {
            core = try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<ConnectionCore, Error>) in
                // The TCP connect blocks (bounded by the timeout): not on a cooperative thread.
                DispatchQueue.global().async {
                    do {
                        waiter.resume(returning: try ConnectionCore.dial(options, messages: continuation))
                    } catch {
                        waiter.resume(throwing: error)
                    }
                }
            }
        } catch {
            continuation.finish()
            throw (error as? ConnectionError) ?? ConnectionError(.connect, "\(error)")
        }
        do {
            let hello = try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Hello, Error>) in
                core.start(helloWaiter: waiter)
            }
            let fingerprint = await core.onQueue { $0.fingerprint }
            return PartnerlineConnection(core: core, hello: hello, fingerprint: fingerprint, messages: stream)
        } catch {
            throw (error as? ConnectionError) ?? ConnectionError(.connect, "\(error)")
        }
    }

    /// Sends one command (the library adds its own tag) and returns its whole reply. An `ERR` is a
    /// reply, not a thrown error (see `CommandReply.checked()`); this throws `ConnectionError` when
    /// the command could not be sent or the connection ended before its reply was complete.
    public func send(_ command: ClientCommand) async throws(ConnectionError) -> CommandReply {
        do {
            return try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<CommandReply, Error>) in
                core.queue.async { self.core.send(command, waiter) }
            }
        } catch {
            throw (error as? ConnectionError) ?? ConnectionError(.closed, "\(error)")
        }
    }

    /// Sends `QUIT` and waits until the server has said BYE and the connection has ended.
    public func quit(_ text: String? = nil) async {
        _ = try? await send(.quit(text))
        _ = await closed()
    }

    /// Closes now (what is already queued is still written). Waiting commands fail with `.closed`.
    public func close() {
        core.queue.async { self.core.closeLocally() }
    }

    /// Waits until the connection has ended, and says why.
    public func closed() async -> ConnectionError {
        await withCheckedContinuation { (waiter: CheckedContinuation<ConnectionError, Never>) in
            core.queue.async { self.core.whenEnded(waiter) }
        }
    }
}

/// The state of one connection; everything runs on `connection.queue`.
final class ConnectionCore: ConnectionHandler, @unchecked Sendable {
    /// The library's own I/O queues (connections are spread over them).
    static let queues = IOQueuePool(count: 2)

    private struct Pending {
        let tag: String
        var lines: [ServerMessage]
        let waiter: CheckedContinuation<CommandReply, Error>
    }

    let connection: Connection
    let options: ConnectionOptions
    var queue: DispatchQueue { connection.queue }
    private let messages: AsyncStream<ServerMessage>.Continuation
    private var splitter = LineSplitter(maxLineLength: 1 << 20)
    private var pending: [Pending] = []
    private var nextTag: UInt64 = 0
    private var helloWaiter: CheckedContinuation<Hello, Error>?
    private var greeted = false
    private(set) var fingerprint: String?
    /// Set when this side decides to close (refused certificate, timeout): the reported reason.
    private var failure: ConnectionError?
    private var bye: Bye?
    private var ended: ConnectionError?
    private var endWaiters: [CheckedContinuation<ConnectionError, Never>] = []

    private init(connection: Connection, options: ConnectionOptions, messages: AsyncStream<ServerMessage>.Continuation) {
        self.connection = connection
        self.options = options
        self.messages = messages
    }

    /// TCP connect (blocking) and the TLS context; the connection is not started yet.
    static func dial(_ options: ConnectionOptions, messages: AsyncStream<ServerMessage>.Continuation) throws -> ConnectionCore {
        var tls: TLSClientContext?
        if case .tls(let trust, let clientCertificate) = options.security {
            do {
                switch trust {
                case .certificateAuthority(let file):
                    tls = try TLSClientContext(verifyPeer: true, caFile: file, certificateFile: clientCertificate?.certificateFile,
                                               privateKeyFile: clientCertificate?.privateKeyFile)
                case .systemTrustStore:
                    tls = try TLSClientContext(verifyPeer: true, certificateFile: clientCertificate?.certificateFile,
                                               privateKeyFile: clientCertificate?.privateKeyFile)
                case .pinnedFingerprint(let pin):
                    guard Fingerprint.normalized(pin) != nil else {
                        throw ConnectionError(.untrustedServer, "the pinned fingerprint '\(pin)' is not a SHA-256 fingerprint (64 hex digits)")
                    }
                    fallthrough
                case .knownHosts:
                    // The certificate is checked against the pin or file after the handshake,
                    // before a single line is sent.
                    tls = try TLSClientContext(verifyPeer: false, certificateFile: clientCertificate?.certificateFile,
                                               privateKeyFile: clientCertificate?.privateKeyFile)
                }
            } catch let error as ConnectionError {
                throw error
            } catch {
                throw ConnectionError(.tls, "\(error)")
            }
        }
        let connection: Connection
        do {
            connection = try Connector.connect(host: options.host, port: options.port, tls: tls, queues: queues,
                                               timeoutSeconds: max(1, options.timeoutSeconds))
        } catch {
            throw ConnectionError(.connect, "cannot connect to \(options.hostPort): \(error)")
        }
        if tls == nil && !connection.peer.isLoopback {
            // Never started, so nothing was sent; the socket closes with the connection.
            throw ConnectionError(.plaintextNotLoopback,
                                  "plaintext to \(connection.peer) refused: only a loopback address may be reached without TLS")
        }
        let core = ConnectionCore(connection: connection, options: options, messages: messages)
        connection.handler = core
        return core
    }

    func start(helloWaiter: CheckedContinuation<Hello, Error>) {
        queue.async {
            self.helloWaiter = helloWaiter
            self.connection.start()
        }
        queue.asyncAfter(deadline: .now() + .seconds(max(1, options.timeoutSeconds))) {
            guard !self.greeted, self.ended == nil else { return }
            self.fail(ConnectionError(.timedOut, "no greeting from \(self.options.hostPort) within \(self.options.timeoutSeconds) s"))
        }
    }

    func onQueue<T: Sendable>(_ body: @escaping @Sendable (ConnectionCore) -> T) async -> T {
        await withCheckedContinuation { waiter in
            queue.async { waiter.resume(returning: body(self)) }
        }
    }

    // MARK: ConnectionHandler

    func connectionReady(_ connection: Connection) {
        guard case .tls(let trust, _) = options.security else { return }
        fingerprint = connection.peerCertificateSHA256Hex()
        guard let fingerprint else {
            return fail(ConnectionError(.untrustedServer, "the server at \(options.hostPort) sent no certificate"))
        }
        switch trust {
        case .certificateAuthority, .systemTrustStore:
            return   // OpenSSL checked the chain and the name in the handshake
        case .pinnedFingerprint(let pin):
            let expected = Fingerprint.normalized(pin) ?? ""
            if fingerprint != expected {
                fail(ConnectionError(.untrustedServer, """
                    REFUSED: the server at \(options.hostPort) presented a certificate that is not the pinned one.
                      presented: SHA-256 \(Fingerprint.display(fingerprint))
                      pinned:    SHA-256 \(Fingerprint.display(expected))
                    """))
            }
        case .knownHosts(let file):
            if let problem = Self.checkKnownHosts(file: file, hostPort: options.hostPort, fingerprint: fingerprint) {
                fail(problem)
            }
        }
    }

    func connection(_ connection: Connection, didReceive bytes: UnsafeRawBufferPointer) {
        splitter.feed(bytes) { line in
            guard line.count > 0 else { return }
            handle(ServerMessage(bytes: line))
        }
    }

    func connectionClosed(_ connection: Connection, reason: CloseReason) {
        let end: ConnectionError
        if let failure {
            end = failure
        } else {
            switch reason {
            case .handshakeFailed(let text):
                end = ConnectionError(.tls, "TLS with \(options.hostPort) failed: \(text)")
            case .handshakeInterrupted(let text):
                end = ConnectionError(.handshakeInterrupted, "TLS with \(options.hostPort) interrupted: \(text)")
            case .peerClosed:
                end = ConnectionError(.closed, bye.map { "the server closed the connection: BYE \($0.code) \($0.text)" }
                                      ?? "the server closed the connection", bye: bye)
            case .localClose:
                end = ConnectionError(.closed, "closed by this client", bye: bye)
            case .outboundOverflow:
                end = ConnectionError(.closed, "closed: too much unsent output", bye: bye)
            case .ioError(let text):
                end = ConnectionError(.closed, "connection to \(options.hostPort) failed: \(text)", bye: bye)
            }
        }
        ended = end
        helloWaiter?.resume(throwing: end)
        helloWaiter = nil
        let waiting = pending
        pending.removeAll()
        for command in waiting { command.waiter.resume(throwing: end) }
        messages.finish()
        for waiter in endWaiters { waiter.resume(returning: end) }
        endWaiters.removeAll()
    }

    // MARK: Lines

    private func handle(_ message: ServerMessage) {
        switch message {
        case .ping(let token):
            if let pong = try? ClientCommand.pong(token).encoded() { connection.send(pong) }
            return
        case .hello(let hello) where !greeted:
            greeted = true
            helloWaiter?.resume(returning: hello)
            helloWaiter = nil
            return
        case .bye(let line):
            bye = line
            if let index = pending.firstIndex(where: { $0.tag == line.tag }) {
                complete(index, final: message)   // QUIT's answer
            }
            messages.yield(message)
            return
        default:
            break
        }
        if let tag = message.tag, let index = pending.firstIndex(where: { $0.tag == tag }) {
            if message.isFinalReply {
                complete(index, final: message)
            } else {
                pending[index].lines.append(message)
            }
            return
        }
        if message.isFinalReply && message.tag == nil && !pending.isEmpty {
            // An untagged final reply (the server could not read the line's tag): replies come
            // in command order, so it is the oldest command's.
            complete(0, final: message)
            return
        }
        messages.yield(message)
    }

    private func complete(_ index: Int, final: ServerMessage) {
        let command = pending.remove(at: index)
        command.waiter.resume(returning: CommandReply(tag: command.tag, lines: command.lines, final: final))
    }

    // MARK: Commands (on the queue)

    func send(_ command: ClientCommand, _ waiter: CheckedContinuation<CommandReply, Error>) {
        if let ended { return waiter.resume(throwing: ended) }
        nextTag += 1
        let tag = "c\(nextTag)"
        let bytes: [UInt8]
        do {
            bytes = try command.encoded(tag: tag)
        } catch {
            return waiter.resume(throwing: ConnectionError(.encoding, error.description))
        }
        guard bytes.count - 2 <= options.maxLineBytes else {
            return waiter.resume(throwing: ConnectionError(
                .encoding, "\(command.verb) is \(bytes.count - 2) bytes; the line limit is \(options.maxLineBytes)"))
        }
        pending.append(Pending(tag: tag, lines: [], waiter: waiter))
        connection.send(bytes)
    }

    func closeLocally() {
        connection.close(flush: true)
    }

    func whenEnded(_ waiter: CheckedContinuation<ConnectionError, Never>) {
        if let ended { return waiter.resume(returning: ended) }
        endWaiters.append(waiter)
    }

    /// The PartnerlineConnection was released: close, so the socket does not outlive every owner.
    func ownerGone() {
        queue.async { self.connection.close(flush: true) }
    }

    private func fail(_ error: ConnectionError) {
        if failure == nil { failure = error }
        connection.close(flush: false)
    }

    // MARK: Trust on first use

    /// Reads (and on first use appends to) the known-hosts file; nil if the server is trusted.
    static func checkKnownHosts(file: String, hostPort: String, fingerprint: String) -> ConnectionError? {
        let contents: String
        if FileManager.default.fileExists(atPath: file) {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                return ConnectionError(.untrustedServer, "cannot read the known-hosts file \(file)")
            }
            contents = text
        } else {
            contents = ""
        }
        switch KnownHosts(contents: contents).decide(hostPort: hostPort, fingerprint: fingerprint) {
        case .trusted:
            return nil
        case .changed(let known):
            return ConnectionError(.untrustedServer, KnownHosts.changedMessage(
                hostPort: hostPort, presented: fingerprint, known: known, file: file))
        case .firstUse(let line):
            do {
                let directory = (file as NSString).deletingLastPathComponent
                if !directory.isEmpty {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                }
                if !FileManager.default.fileExists(atPath: file) {
                    guard FileManager.default.createFile(atPath: file, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                        return ConnectionError(.untrustedServer, "cannot create the known-hosts file \(file)")
                    }
                }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
                defer { try? handle.close() }
                try handle.seekToEnd()
                let prefix = contents.isEmpty || contents.hasSuffix("\n") ? "" : "\n"
                try handle.write(contentsOf: Data((prefix + line).utf8))
                return nil
            } catch {
                return ConnectionError(.untrustedServer, "cannot record \(hostPort) in the known-hosts file \(file): \(error)")
            }
        }
    }
}
