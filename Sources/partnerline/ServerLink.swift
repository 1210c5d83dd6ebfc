import Foundation
import PartnerlineClient
import PartnerlineTransport
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

/// The seam between the terminal client and its connection: lines out, events in. Today it is
/// a thin adapter over the transport's non-blocking `Connection` (TLS, line splitting, PONG for
/// PING); the client library's resuming connection takes its place behind the same two calls.
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

final class TransportLink: ConnectionHandler, ServerLink, @unchecked Sendable {
    private let connection: Connection
    private let inbox: Inbox
    private var splitter = LineSplitter(maxLineLength: 1 << 20)
    private static let queues = IOQueuePool(count: 1)

    private init(connection: Connection, inbox: Inbox) {
        self.connection = connection
        self.inbox = inbox
    }

    /// Connects (the TCP connect blocks, up to `timeoutSeconds`) and starts the handshake;
    /// events go to `inbox`.
    static func open(host: String, port: Int, trust: TrustMode, inbox: Inbox, timeoutSeconds: Int = 10) throws -> TransportLink {
        TransportSetup.ignoreSIGPIPE()
        let tls: TLSClientContext?
        switch trust {
        case .plain: tls = nil
        case .caFile(let path): tls = try TLSClientContext(verifyPeer: true, caFile: path)
        case .knownHosts, .insecure: tls = try TLSClientContext(verifyPeer: false)
        }
        let connection = try Connector.connect(host: host, port: port, tls: tls, queues: queues,
                                               timeoutSeconds: timeoutSeconds)
        let link = TransportLink(connection: connection, inbox: inbox)
        connection.handler = link
        connection.queue.async { connection.start() }
        return link
    }

    func send(_ line: String) {
        let bytes = Array(line.utf8) + [13, 10]
        let connection = self.connection
        connection.queue.async { connection.send(bytes) }
    }

    func close() {
        let connection = self.connection
        connection.queue.async { connection.close(flush: true) }
    }

    // MARK: ConnectionHandler (on the connection's queue)

    func connectionReady(_ connection: Connection) {
        inbox.post(.ready(fingerprint: connection.isTLS ? connection.peerCertificateSHA256Hex() : nil))
    }

    func connection(_ connection: Connection, didReceive bytes: UnsafeRawBufferPointer) {
        splitter.feed(bytes) { line in
            let text = String(decoding: line, as: UTF8.self)
            // PING is answered here, at once, whatever the client is busy with.
            if text.hasPrefix("PING") {
                let token = text.split(separator: " ").dropFirst().first.map(String.init) ?? ""
                connection.send(Array("PONG \(token)\r\n".utf8))
                return
            }
            inbox.post(.line(text))
        }
    }

    func connectionClosed(_ connection: Connection, reason: CloseReason) {
        let text: String
        switch reason {
        case .peerClosed: text = "the server closed the connection"
        case .localClose: text = "closed"
        case .outboundOverflow: text = "too much unsent output"
        case .handshakeFailed(let why): text = "TLS handshake failed: \(why)"
        case .ioError(let why): text = why
        }
        inbox.post(.closed(text))
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
