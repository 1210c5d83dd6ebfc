import Foundation
import PartnerlineClient
import PartnerlineTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP front (port 0) for a real server: it drops the next connections during the TLS
/// handshake (one EOF after reading the ClientHello, one RST via SO_LINGER 0, alternating), then
/// relays byte for byte to the server. What a restarting server or a proxy that drops
/// connections looks like to a client.
final class DroppingFront: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let serverPort: Int
    private let lock = NSLock()
    private var toDrop = 0
    private var dropped = 0
    private var relayed: [Int32] = []

    init(serverPort: Int, dropFirst: Int) throws {
        self.serverPort = serverPort
        toDrop = dropFirst
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 16) == 0 else { throw TestFailure("listen: \(errno)") }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Connections dropped so far.
    var droppedCount: Int { lock.withLock { dropped } }

    /// Cuts every relayed connection and drops the next `count` new ones.
    func cut(thenDrop count: Int) {
        // Under the lock: a pump closes its descriptors only after removing them from `relayed`.
        lock.withLock {
            toDrop += count
            for fd in relayed { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    func close() { shutdown(listener, Int32(SHUT_RDWR)) }

    deinit {
        Glibc.close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let drop: Int? = lock.withLock {
                guard toDrop > 0 else { return nil }
                toDrop -= 1
                dropped += 1
                return dropped
            }
            if let drop {
                if drop % 2 == 1 {
                    // EOF: read the ClientHello (so nothing unread turns the close into a reset), close.
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    _ = recv(client, &buffer, buffer.count, 0)
                    Glibc.close(client)
                } else {
                    // RST: linger 0 makes close() reset the connection.
                    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                    _ = setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                    Glibc.close(client)
                }
                continue
            }
            relay(client)
        }
    }

    private func relay(_ client: Int32) {
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(serverPort).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            Glibc.close(upstream)
            Glibc.close(client)
            return
        }
        lock.withLock { relayed += [client, upstream] }
        let finished = Counter()
        for (from, to) in [(client, upstream), (upstream, client)] {
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 16384)
                while true {
                    let n = recv(from, &buffer, buffer.count, 0)
                    if n <= 0 { break }
                    if send(to, buffer, n, Int32(MSG_NOSIGNAL)) != n { break }
                }
                shutdown(to, Int32(SHUT_RDWR))
                shutdown(from, Int32(SHUT_RDWR))
                if finished.increment() == 2 {
                    // Forgotten before closed, so `cut` never shuts down a reused descriptor.
                    self.lock.withLock { self.relayed.removeAll { $0 == client || $0 == upstream } }
                    Glibc.close(client)
                    Glibc.close(upstream)
                }
            }
        }
    }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func increment() -> Int { lock.withLock { value += 1; return value } }
    }
}

/// A server that goes away during the TLS handshake is retried like a refused connect; a
/// certificate that fails verification stops the session for good.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HandshakeRetryTests {
    static let room = "c1/general"

    @Test func eofAndResetDuringTheHandshakeAreInterruptionsNotRefusals() async throws {
        let server = try RealServer()
        let front = try DroppingFront(serverPort: server.port, dropFirst: 2)
        defer { front.close() }
        var options = server.caOptions
        options.port = front.port
        for expected in ["EOF", "reset"] {
            do {
                _ = try await PartnerlineConnection.connect(options)
                Issue.record("connected through a front that drops the connection (\(expected))")
            } catch {
                #expect(error.kind == .handshakeInterrupted, "\(expected): \(error.kind) \(error)")
                // The reset comes through TLSStream's classifier as errno (ECONNRESET or EPIPE).
                if expected == "reset" { #expect(error.message.contains("errno"), "\(error)") }
            }
        }
        #expect(front.droppedCount == 2)
        // The third connection is relayed: the same options work.
        let through = try await PartnerlineConnection.connect(options)
        #expect(through.hello.serverName == "client-test")
        through.close()
    }

    @Test func aSessionRetriesDroppedHandshakesComesUpAndResumes() async throws {
        let server = try RealServer()
        let setup = try await PartnerlineConnection.connect(server.caOptions)
        try await setup.registerAndLogin("reader")
        setup.close()

        let front = try DroppingFront(serverPort: server.port, dropFirst: 2)
        defer { front.close() }
        var options = server.caOptions
        options.port = front.port
        let session = PartnerlineSession(options: options, account: "reader", password: "correct-horse-battery",
                                         backoff: Backoff(initialSeconds: 0.05, maximumSeconds: 0.2))
        let inbox = Inbox()
        let collector = collect(session, into: inbox)
        await session.start()
        try await eventually("connected or stopped") {
            let names = await inbox.stateNames
            return names.contains("connected") || names.contains("stopped")
        }
        var states = await inbox.states
        #expect(await inbox.stateNames.prefix(5) == ["connecting", "away", "connecting", "away", "connecting"],
                "\(states)")
        let reasons = states.compactMap { if case .away(let reason, _) = $0 { reason.kind } else { nil } }
        #expect(reasons == [.handshakeInterrupted, .handshakeInterrupted], "\(states)")
        #expect(await inbox.stateNames.contains("connected"), "\(states)")
        _ = try await session.send(.join(Self.room)).checked()

        // Cut the live connection and drop the next two handshakes while events are posted: the
        // session comes back and delivers every event once, in order.
        let poster = try await PartnerlineConnection.connect(server.caOptions)
        try await poster.registerAndLogin("poster")
        _ = try await poster.send(.join(Self.room)).checked()
        _ = try await poster.send(.say(Self.room, "before")).checked()
        try await eventually("live event") { await inbox.lastSeq(in: Self.room) >= 1 }
        front.cut(thenDrop: 2)
        for n in 1...5 { _ = try await poster.send(.say(Self.room, "while away \(n)")).checked() }
        try await eventually("back or stopped") {
            let names = await inbox.stateNames
            return names.contains("back") || names.contains("stopped")
        }
        states = await inbox.states
        #expect(await inbox.stateNames.contains("back"), "\(states)")
        #expect(front.droppedCount == 4)
        try await eventually("caught up") { await inbox.lastSeq(in: Self.room) >= 6 }
        let seen = await inbox.events.filter { $0.room == Self.room }
        #expect(seen.map(\.seq) == Array(1...6))
        #expect(seen.last?.text == "while away 5")
        poster.close()
        await session.stop()
        await collector.value
    }

    @Test func aCertificateThatFailsVerificationStopsTheSessionWithoutRetrying() async throws {
        let server = try RealServer()
        let other = try TestCertificate(in: server.dir.path, name: "other")
        let session = PartnerlineSession(options: server.options(.certificateAuthority(file: other.certificate)),
                                         account: "reader", password: "correct-horse-battery",
                                         backoff: Backoff(initialSeconds: 0.05, maximumSeconds: 0.2))
        let inbox = Inbox()
        let collector = collect(session, into: inbox)
        await session.start()
        await collector.value   // the updates end when the session stops
        let states = await inbox.states
        #expect(await inbox.stateNames == ["connecting", "stopped"], "\(states)")
        if case .stopped(let error)? = states.last {
            #expect(error?.kind == .tls, "\(states)")
        }
    }
}
