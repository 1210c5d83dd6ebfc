import Dispatch
import Foundation
import PartnerlineTestSupport
import Testing
@testable import PartnerlineTransport

@Suite(.serialized)
struct TransportTests {
    // MARK: TLS echo

    @Test func tlsEchoPipelinedAndLargePayloads() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context())
        let client = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true)
        #expect(client.isTLS)

        try client.send(line: "hello")
        #expect(try client.readLine() == "hello")

        // Many lines pipelined in one write, LF-only and CRLF mixed.
        var blob: [UInt8] = []
        for i in 0..<1000 { blob += Array("line \(i)".utf8) + (i % 2 == 0 ? [13, 10] : [10]) }
        try client.send(raw: blob)
        for i in 0..<1000 { #expect(try client.readLine() == "line \(i)") }

        // A 200 KB line up (many TLS records in), the same back out (partial writes).
        let big = String(repeating: "0123456789", count: 20_000)
        try client.send(line: big)
        #expect(try client.readLine() == big)

        // 800 KB from the server in 1000-byte send()s, coalesced into few SSL_writes.
        try client.send(line: "BIG 800000")
        let lines = try client.readLines(untilPrefix: "END ")
        #expect(lines.count == 801)
        #expect(lines.last == "END 800000")
        #expect(lines.dropLast().allSatisfy { $0.count == 998 })

        try client.send(line: "still here")
        #expect(try client.readLine() == "still here")
        client.close()
        #expect(server.recorder.waitForCloses(count: 1) == [.peerClosed])
        #expect(server.recorder.allViolations.isEmpty)
    }

    @Test func fiftyConcurrentClients() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context())
        // All 50 are connected (handshaken) at once, then their traffic interleaves.
        let clients = try (0..<50).map { _ in try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true) }
        for round in 0..<3 {
            for (i, client) in clients.enumerated() { try client.send(line: "client \(i) round \(round)") }
            for (i, client) in clients.enumerated() { #expect(try client.readLine() == "client \(i) round \(round)") }
        }
        // And from several threads at once.
        let failures = Locked<[String]>([])
        let shared = UncheckedBox(clients)   // each thread uses its own disjoint clients
        DispatchQueue.concurrentPerform(iterations: 10) { t in
            let clients = shared.value
            for i in stride(from: t, to: 50, by: 10) {
                do {
                    try clients[i].send(line: "thread \(t) client \(i)")
                    let echoed = try clients[i].readLine()
                    if echoed != "thread \(t) client \(i)" { failures.withLock { $0.append(echoed) } }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        clients.forEach { $0.close() }
        let reasons = server.recorder.waitForCloses(count: 50)
        #expect(reasons?.count == 50)
        #expect(reasons?.allSatisfy { $0 == .peerClosed } == true)
        #expect(server.recorder.allViolations.isEmpty)
    }

    @Test func verifyingClientChecksTheCertificate() throws {
        let certs = try CertFixture()
        let other = try CertFixture(names: ["example.invalid"])
        let server = try EchoServer(tls: try certs.context())

        let byIP = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true, caFile: certs.certificatePath)
        try byIP.send(line: "verified")
        #expect(try byIP.readLine() == "verified")
        byIP.close()
        let byName = try BlockingLineClient(host: "localhost", port: server.port, tls: true, caFile: certs.certificatePath)
        try byName.send(line: "verified by name")
        #expect(try byName.readLine() == "verified by name")
        byName.close()

        // The same client refuses a certificate it was not told to trust.
        #expect(throws: TransportError.self) {
            _ = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true, caFile: other.certificatePath)
        }
    }

    @Test func certificateFactoryWritesPrivateKeyWithMode0600() throws {
        let certs = try CertFixture()
        let attributes = try FileManager.default.attributesOfItem(atPath: certs.keyPath)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let text = try String(contentsOfFile: certs.certificatePath, encoding: .utf8)
        #expect(text.hasPrefix("-----BEGIN CERTIFICATE-----"))
        // A key that does not match the certificate is refused.
        let other = try CertFixture()
        #expect(throws: TransportError.self) {
            _ = try TLSServerContext(certificateChainPath: certs.certificatePath, privateKeyPath: other.keyPath)
        }
    }

    // MARK: plaintext, IPv6

    @Test func plaintextListener() throws {
        let server = try EchoServer(tls: nil)
        let client = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: false)
        #expect(!client.isTLS)
        try client.send(line: "plain")
        #expect(try client.readLine() == "plain")
        try client.send(raw: Array("partial ".utf8))
        try client.send(raw: Array("line\n".utf8))
        #expect(try client.readLine() == "partial line")
        try client.send(line: "BIG 300000")
        #expect(try client.readLines(untilPrefix: "END ").count == 301)
        client.close()
        #expect(server.recorder.waitForCloses(count: 1) == [.peerClosed])
    }

    @Test(.enabled(if: IPv6Loopback.isAvailable, Comment(rawValue: IPv6Loopback.absentReason)))
    func ipv6Loopback() throws {
        let certs = try CertFixture()
        let server = try EchoServer(host: "::1", tls: try certs.context())
        #expect(server.listener.localHost == "::1")
        let client = try BlockingLineClient(host: "::1", port: server.port, tls: true, caFile: certs.certificatePath)
        try client.send(line: "over v6")
        #expect(try client.readLine() == "over v6")
        client.close()
        #expect(server.recorder.waitForCloses(count: 1) == [.peerClosed])
    }

    @Test(.enabled(if: IPv6Loopback.isAvailable, Comment(rawValue: IPv6Loopback.absentReason)))
    func dualStackListenerAcceptsIPv4() throws {
        let seen = Locked<[PeerAddress]>([])
        let listener = try Listener(host: "::", port: 0, tls: nil, queues: IOQueuePool(count: 1)) { connection in
            seen.withLock { $0.append(connection.peer) }
            connection.close(flush: false)
        }
        listener.start()
        defer { listener.stop() }
        let client = try BlockingLineClient(host: "127.0.0.1", port: listener.localPort, tls: false)
        #expect(throws: TransportError.self) { _ = try client.readLine() }
        let peer = seen.withLock { $0.first }
        #expect(peer?.isLoopback == true)
        #expect(peer?.host.hasSuffix("127.0.0.1") == true)
    }

    // MARK: openssl s_client

    @Test func opensslSClientTalksToTheServer() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        // -no_ign_eof: exit when stdin closes (-quiet alone implies -ign_eof).
        process.arguments = ["s_client", "-connect", "127.0.0.1:\(server.port)", "-quiet", "-no_ign_eof"]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        let collector = OutputCollector()
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if chunk.isEmpty { handle.readabilityHandler = nil }
            collector.append(chunk)
        }
        try process.run()
        defer { reap(process) }
        stdin.fileHandleForWriting.write(Data("hello from s_client\n".utf8))
        let seen = collector.wait { $0.contains("hello from s_client\r\n") }
        #expect(seen.contains("hello from s_client\r\n"))
        try stdin.fileHandleForWriting.close()
    }

    /// Trap 10: every refusal is paired with the same command succeeding, so the test can fail.
    @Test func tls12MinimumAndAEADOnly() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context())
        func sClient(_ extra: [String]) throws -> (Int32, String) {
            try runProcess("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(server.port)"] + extra,
                           input: Data())
        }
        // TLS 1.1 at SECLEVEL=0 (else the client refuses by itself) is refused by the server ...
        let (old, oldText) = try sClient(["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        #expect(old != 0, "TLS 1.1 handshake unexpectedly succeeded: \(oldText)")
        // ... while the same command at TLS 1.2 succeeds.
        let (new, newText) = try sClient(["-tls1_2", "-cipher", "DEFAULT@SECLEVEL=0"])
        #expect(new == 0, "TLS 1.2 handshake failed: \(newText)")
        #expect(newText.contains("TLSv1.2"))
        // A non-AEAD TLS 1.2 suite that fits the EC key is refused; its GCM sibling is accepted.
        let (cbc, cbcText) = try sClient(["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA@SECLEVEL=0"])
        #expect(cbc != 0, "CBC suite unexpectedly accepted: \(cbcText)")
        let (gcm, gcmText) = try sClient(["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256@SECLEVEL=0"])
        #expect(gcm == 0, "GCM suite refused: \(gcmText)")
        // TLS 1.3 works too.
        let (v13, v13Text) = try sClient(["-tls1_3"])
        #expect(v13 == 0 && v13Text.contains("TLSv1.3"), "TLS 1.3 failed: \(v13Text)")
        let reasons = server.recorder.waitForCloses(count: 5) ?? []
        #expect(reasons.filter { if case .handshakeFailed = $0 { true } else { false } }.count == 2)
    }

    // MARK: closing

    @Test func closeWithFlushDeliversEverythingThenEOF() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context())
        let client = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true)
        // 500 KB pending when QUIT arrives in the same read: all of it must come out before EOF.
        try client.send(raw: Array("NAME quitter\r\nBIG 500000\r\nQUIT\r\n".utf8))
        #expect(try client.readLine() == "OK NAME quitter")
        let lines = try client.readLines(untilPrefix: "END ")
        #expect(lines.count == 501)
        #expect(try client.readLine() == "BYE")
        do {
            _ = try client.readLine()
            Issue.record("expected end of stream after BYE")
        } catch let error as TransportError {
            #expect(error.kind == .endOfStream, "\(error)")
        }
        #expect(server.recorder.waitForClose("quitter") == [.localClose])
    }

    @Test func plaintextCloseWithFlushDeliversLastLine() throws {
        let server = try EchoServer(tls: nil)
        let client = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: false)
        try client.send(raw: Array("NAME quitter\r\nQUIT\r\n".utf8))
        #expect(try client.readLines(untilPrefix: "BYE") == ["OK NAME quitter", "BYE"])
        #expect { _ = try client.readLine() } throws: { ($0 as? TransportError)?.kind == .endOfStream }
        #expect(server.recorder.waitForClose("quitter") == [.localClose])
    }

    @Test func closeWithoutFlushIsImmediate() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context())
        let client = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true)
        try client.send(raw: Array("NAME dropper\r\nDROP\r\n".utf8))
        // The OK may or may not get out first (no flush); either way the stream ends.
        var ended = false
        for _ in 0..<2 where !ended {
            do { _ = try client.readLine() } catch { ended = (error as? TransportError)?.kind != .timedOut }
        }
        #expect(ended)
        #expect(server.recorder.waitForClose("dropper") == [.localClose])
    }

    @Test func peerDisconnectWithoutCloseNotify() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context())
        let client = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true)
        try client.send(line: "NAME abrupt")
        #expect(try client.readLine() == "OK NAME abrupt")
        client.closeWithoutNotify()
        #expect(server.recorder.waitForClose("abrupt") == [.peerClosed])
        // Exactly once: another connection's full cycle afterwards shows no second report.
        let later = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true)
        try later.send(line: "NAME later")
        #expect(try later.readLine() == "OK NAME later")
        later.close()
        #expect(server.recorder.waitForClose("later") == [.peerClosed])
        #expect(server.recorder.reasons(for: "abrupt") == [.peerClosed])
        #expect(server.recorder.allViolations.isEmpty)
    }

    @Test func plaintextClientOnTLSPortFailsTheHandshake() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context())
        let client = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: false)
        try client.send(line: "HELLO I am not TLS")
        #expect(throws: TransportError.self) { _ = try client.readLine() }
        let reasons = server.recorder.waitForCloses(count: 1) ?? []
        #expect(reasons.count == 1)
        if case .handshakeFailed(let text)? = reasons.first {
            // OpenSSL's own reason, from TLSStream's one classifier, and who it was.
            #expect(text.hasPrefix("TLS handshake: error:"), "\(text)")
            #expect(text.contains("SSL routines"), "\(text)")
            #expect(text.contains("(peer 127.0.0.1:"), "\(text)")
        } else {
            Issue.record("expected handshakeFailed, got \(reasons)")
        }
    }

    // MARK: slow consumers

    @Test func outboundOverflowClosesOnlyTheSlowConsumer() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context(), maxOutboundBytes: 64 * 1024)
        let slow = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true)
        let healthy = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true)
        try healthy.send(line: "NAME healthy")
        #expect(try healthy.readLine() == "OK NAME healthy")

        try slow.send(line: "NAME slow")
        #expect(try slow.readLine() == "OK NAME slow")
        try slow.send(line: "FLOOD")   // and never read again
        #expect(server.recorder.waitForClose("slow") == [.outboundOverflow])

        for i in 0..<20 {
            try healthy.send(line: "after overflow \(i)")
            #expect(try healthy.readLine() == "after overflow \(i)")
        }
        #expect(server.recorder.reasons(for: "healthy").isEmpty)
        slow.close()
        healthy.close()
        #expect(server.recorder.waitForClose("healthy") == [.peerClosed])
        #expect(server.recorder.allViolations.isEmpty)
    }

    // MARK: setup helpers

    @Test func setupHelpers() {
        TransportSetup.ignoreSIGPIPE()
        let limit = TransportSetup.raiseOpenFileLimit()
        #expect(limit > 0)
        let pool = IOQueuePool(count: 3)
        let first = pool.next(), second = pool.next(), third = pool.next(), fourth = pool.next()
        #expect(first !== second && second !== third && fourth === first)
        #expect(ProcFile.read("/proc/self/status")?.contains("VmRSS:") == true)
        #expect(ProcFile.read("/proc/no-such-file") == nil)
    }

    @Test func listenerStopClosesTheSocket() throws {
        let server = try EchoServer(tls: nil)
        let port = server.port
        server.listener.stop()
        // The cancel handler closes the fd asynchronously; a connect must eventually be refused.
        var refused = false
        for _ in 0..<200 where !refused {
            do {
                let client = try BlockingLineClient(host: "127.0.0.1", port: port, tls: false, timeoutSeconds: 2)
                client.close()
                usleep(10_000)
            } catch {
                refused = true
            }
        }
        #expect(refused)
    }
}

/// Every socket the server accepted is closed again, whichever way its connection ended: the fd
/// leaves its slot's epoll set and is closed when the connection terminates, whether or not its
/// writes ever blocked.
@Suite struct ServerSocketsCloseTests {
    /// This process's open TCP sockets (not listening) whose local port is `port`: the server's
    /// side of its connections (`/proc/self/fd` inodes matched against `/proc/net/tcp{,6}`).
    static func acceptedSockets(port: Int) -> Int {
        var inodes = Set<String>()
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let text = ProcFile.read(file) ?? ""
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, let local = fields[1].split(separator: ":").last,
                      Int(local, radix: 16) == port, fields[3] != "0A" else { continue }
                inodes.insert(String(fields[9]))
            }
        }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.filter { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
                  target.hasPrefix("socket:[") else { return false }
            return inodes.contains(String(target.dropFirst(8).dropLast()))
        }.count
    }

    @Test func everyWayOfEndingClosesTheServerSocket() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context(), maxOutboundBytes: 16 << 20)
        let port = server.port

        let peerCloses = try BlockingLineClient(host: "127.0.0.1", port: port, tls: true)
        let quits = try BlockingLineClient(host: "127.0.0.1", port: port, tls: true)
        let dropped = try BlockingLineClient(host: "127.0.0.1", port: port, tls: true)
        let slow = try BlockingLineClient(host: "127.0.0.1", port: port, tls: true)
        let big = try BlockingLineClient(host: "127.0.0.1", port: port, tls: true)
        for (client, name) in [(peerCloses, "peer"), (quits, "quit"), (dropped, "drop"), (slow, "slow"), (big, "big")] {
            try client.send(line: "NAME \(name)")
            #expect(try client.readLine() == "OK NAME \(name)")
        }
        #expect(Self.acceptedSockets(port: port) == 5)

        // Output bigger than the socket buffers: the write blocks and waits for the writable
        // edge; then the client reads it all and closes.
        try big.send(line: "BIG 12000000")
        var lines = 0
        while try big.readLine() != "END 12000000" { lines += 1 }
        #expect(lines == 12000)
        big.close()
        #expect(server.recorder.waitForClose("big") == [.peerClosed])

        peerCloses.close()
        try quits.send(line: "QUIT")
        #expect(try quits.readLine() == "BYE")
        try dropped.send(line: "DROP")
        try slow.send(line: "FLOOD")   // never read: write blocked, then overflow
        #expect(server.recorder.waitForClose("slow") == [.outboundOverflow])
        // A plaintext client on the TLS port: the handshake fails before anything is written.
        let plain = try BlockingLineClient(host: "127.0.0.1", port: port, tls: false, timeoutSeconds: 5)
        try? plain.send(line: "HELLO")
        _ = server.recorder.waitForCloses(count: 6)

        #expect(eventually { Self.acceptedSockets(port: port) == 0 }, "\(Self.acceptedSockets(port: port)) server sockets still open")
        quits.close()
        dropped.close()
        slow.close()
        plain.close()
        #expect(server.recorder.allViolations.isEmpty)
    }

    final class WeakConnection: @unchecked Sendable {
        weak var connection: Connection?
        init(_ connection: Connection) { self.connection = connection }
    }

    /// A burst grows a connection's outbound buffer; once it is written, the connection keeps
    /// at most a small buffer for the next flush instead of the burst's high-water mark (a
    /// thousand connections that each took one burst would otherwise hold it while traffic goes on).
    @Test func aDrainedBurstGivesItsBufferBack() throws {
        let certs = try CertFixture()
        let seen = Locked<[Connection]>([])
        let server = try EchoServer(tls: try certs.context()) { connection in
            seen.withLock { $0.append(connection) }
        }
        let client = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true)
        try client.send(line: "hello")
        #expect(try client.readLine() == "hello")
        let connection = try #require(seen.withLock { $0.first })
        func capacity() -> Int { connection.queue.sync { connection.outboundCapacity } }
        // A small reply's buffer is kept for the next one.
        #expect(eventually { capacity() > 0 })
        #expect(capacity() <= Connection.keptOutboundCapacity)

        // 30 KB in one queue turn: one buffer of at least that, written in one go.
        try client.send(line: "BIG 30000")
        let lines = try client.readLines(untilPrefix: "END ")
        #expect(lines.last == "END 30000")
        #expect(eventually { capacity() <= Connection.keptOutboundCapacity }, "\(capacity()) bytes kept after the burst")
        #expect(Connection.keptOutboundCapacity < 30000)

        try client.send(line: "still here")
        #expect(try client.readLine() == "still here")
        client.close()
        #expect(server.recorder.waitForCloses(count: 1) == [.peerClosed])
    }

    /// The slot's epoll table holds each registered connection strongly (no weak side table per
    /// connection); it must let go when the connection ends, or every connection would leak.
    @Test func aClosedConnectionIsFreed() throws {
        let certs = try CertFixture()
        let seen = Locked<[WeakConnection]>([])
        let server = try EchoServer(tls: try certs.context(), maxOutboundBytes: 16 << 20) { connection in
            seen.withLock { $0.append(WeakConnection(connection)) }
        }
        let quiet = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true)
        let big = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true)
        try quiet.send(line: "hello")
        #expect(try quiet.readLine() == "hello")
        try big.send(line: "BIG 12000000")   // blocks on the socket: waits for the writable edge
        while try big.readLine() != "END 12000000" {}
        quiet.close()
        big.close()
        #expect(server.recorder.waitForCloses(count: 2) != nil)
        func alive() -> Int { seen.withLock { $0.filter { $0.connection != nil }.count } }
        _ = eventually { alive() == 0 }
        #expect(seen.withLock { $0.count } == 2)
        #expect(alive() == 0, "\(alive()) closed connections still alive")
    }
}
