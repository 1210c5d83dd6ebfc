import Dispatch
import Foundation
import Testing
@testable import PartnerlineTransport
#if canImport(Glibc)
import Glibc
#endif

/// The slot's token table on its own (pure).
@Suite struct PollRegistryTests {
    final class Member {}

    @Test func aRemovedMembersTokenNoLongerResolvesEvenWhenItsIndexIsReused() {
        var registry = PollRegistry<Member>()
        let a = Member(), b = Member(), c = Member()
        let tokenA = registry.add(a)
        let tokenB = registry.add(b)
        #expect(registry.member(for: tokenA) === a)
        #expect(registry.member(for: tokenB) === b)
        #expect(registry.count == 2)

        registry.remove(tokenB)
        #expect(registry.member(for: tokenB) == nil)
        let tokenC = registry.add(c)   // takes b's freed index
        #expect(tokenC & 0xFFFF_FFFF == tokenB & 0xFFFF_FFFF)
        #expect(tokenC != tokenB)
        #expect(registry.member(for: tokenB) == nil, "a stale token must not reach the index's new member")
        #expect(registry.member(for: tokenC) === c)
        #expect(registry.member(for: tokenA) === a)

        registry.remove(tokenB)   // stale: must not remove c
        #expect(registry.member(for: tokenC) === c)
        #expect(registry.count == 2)
        #expect(registry.member(for: 0xFFFF) == nil)   // index never handed out
    }

    @Test func removingReleasesTheMember() {
        var registry = PollRegistry<Member>()
        weak var gone: Member?
        do {
            let member = Member()
            gone = member
            let token = registry.add(member)
            registry.remove(token)
        }
        #expect(gone == nil)
        #expect(registry.count == 0)
    }
}

/// The epoll loop: one epoll set per I/O slot, one DispatchSource on its fd, edge-triggered.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct EventLoopTests {
    /// A single-slot echo server, so every connection shares one epoll set.
    static func oneSlotServer(tls: TLSServerContext?, observe: (@Sendable (Connection) -> Void)? = nil) throws
        -> (EchoServer, IOSlot) {
        _ = TransportSetup.raiseOpenFileLimit()
        let server = try EchoServer(tls: tls, maxOutboundBytes: 16 << 20, poolSize: 1, observe: observe)
        return (server, server.pool.slots[0])
    }

    @Test func manyConnectionsOnOneSlotAreAllServed() throws {
        let (server, slot) = try Self.oneSlotServer(tls: nil)
        let certs = try CertFixture()
        let (tlsServer, tlsSlot) = try Self.oneSlotServer(tls: try certs.context())
        let plain = try (0..<200).map { _ in try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: false) }
        let secure = try (0..<40).map { _ in
            try BlockingLineClient(host: "127.0.0.1", port: tlsServer.port, tls: true)
        }
        for round in 0..<3 {
            // Everyone writes before anyone reads: the slot's turns see many ready sockets at once.
            for (i, client) in plain.enumerated() { try client.send(line: "plain \(i) round \(round)") }
            for (i, client) in secure.enumerated() { try client.send(line: "tls \(i) round \(round)") }
            for (i, client) in plain.enumerated() { #expect(try client.readLine() == "plain \(i) round \(round)") }
            for (i, client) in secure.enumerated() { #expect(try client.readLine() == "tls \(i) round \(round)") }
        }
        #expect(slot.queue.sync { slot.memberCount } == 200)
        #expect(tlsSlot.queue.sync { tlsSlot.memberCount } == 40)
        for client in plain { client.close() }
        for client in secure { client.close() }
        #expect(server.recorder.waitForCloses(count: 200) != nil)
        #expect(tlsServer.recorder.waitForCloses(count: 40) != nil)
        // Every connection left the epoll set (and so the slot's table) when it closed.
        #expect(eventually { slot.queue.sync { slot.memberCount } == 0 })
        #expect(eventually { tlsSlot.queue.sync { tlsSlot.memberCount } == 0 })
        #expect(server.recorder.allViolations.isEmpty)
        #expect(tlsServer.recorder.allViolations.isEmpty)
    }

    /// More than a read budget of pipelined input arrives at once and the client then waits:
    /// no new edge comes, so the rest must be read through the slot's "ready again" list.
    @Test(arguments: [false, true])
    func pipelinedInputBeyondTheReadBudgetIsReadWithoutANewEdge(tls: Bool) throws {
        let certs = try CertFixture()
        let (server, slot) = try Self.oneSlotServer(tls: tls ? try certs.context() : nil)
        let client = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: tls)
        try client.send(line: "warm up")
        #expect(try client.readLine() == "warm up")
        let before = slot.queue.sync { slot.budgetStops }

        // Well over readBudget (64 KiB) and over many 16 KiB read buffers, in one write.
        let lineCount = 3000
        var blob: [UInt8] = []
        func line(_ i: Int) -> String { "pipelined line \(i) " + String(repeating: "p", count: 80) }
        for i in 0..<lineCount { blob += Array(line(i).utf8) + [13, 10] }
        #expect(blob.count > 4 * Connection.readBudget)
        try client.send(raw: blob)
        for i in 0..<lineCount {
            let expected = line(i)
            let line = try client.readLine()
            guard line == expected else {
                Issue.record("line \(i): \(line.prefix(40))")
                break
            }
        }
        #expect(slot.queue.sync { slot.budgetStops } > before, "the input never hit the read budget")
        client.close()
        #expect(server.recorder.waitForCloses(count: 1) == [.peerClosed])
        #expect(server.recorder.allViolations.isEmpty)
    }

    /// The server's output outgrows the socket buffers while the client is not reading; the
    /// client sends nothing more, so only the writable edge can move the rest out.
    @Test func blockedOutputIsDrainedByTheWritableEdge() throws {
        let seen = Locked<[Connection]>([])
        let (server, _) = try Self.oneSlotServer(tls: nil) { connection in seen.withLock { $0.append(connection) } }
        let client = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: false, receiveBufferBytes: 32 * 1024)
        try client.send(line: "NAME big")
        #expect(try client.readLine() == "OK NAME big")
        let connection = try #require(seen.withLock { $0.first })

        // More than the socket buffers take (the server's send buffer autotunes up to tcp_wmem's
        // 4 MiB on loopback).
        try client.send(line: "BIG 12000000")
        // The write blocked: output waits in the connection, not in the kernel.
        #expect(eventually { connection.queue.sync { connection.pendingOutboundBytes } > 4_000_000 })
        var lines = 0
        while try client.readLine() != "END 12000000" { lines += 1 }
        #expect(lines == 12000)
        #expect(connection.queue.sync { connection.pendingOutboundBytes } == 0)
        try client.send(line: "still here")
        #expect(try client.readLine() == "still here")
        client.close()
        #expect(server.recorder.waitForClose("big") == [.peerClosed])
        #expect(server.recorder.allViolations.isEmpty)
    }

    /// One epoll batch holds events for A and then B; A's handler closes B and a new connection
    /// joins the slot (taking B's table index, and as a rule B's fd number, the lowest free one)
    /// before the batch reaches B's event. That event must be dropped: B is not touched after its
    /// close, and the new connection gets only its own events. (The fd number is not forced with
    /// `dup2`: tests run in parallel in this process, and another thread may already own it.)
    @Test func anEventForAConnectionClosedEarlierInTheSameBatchIsDropped() throws {
        let pool = IOQueuePool(count: 1)
        let slot = pool.slots[0]
        let recorder = Recorder()
        let accepted = Locked<[Connection]>([])
        let scripted = Locked<ScriptedHandler?>(nil)
        let listener = try Listener(host: "127.0.0.1", port: 0, tls: nil, queues: pool) { connection in
            accepted.withLock { $0.append(connection) }
            if accepted.withLock({ $0.count }) == 1 {
                let handler = ScriptedHandler(recorder: recorder, label: "a")
                scripted.withLock { $0 = handler }
                connection.handler = handler
            } else {
                connection.handler = EchoHandler(recorder: recorder, id: connection.id)
            }
            connection.start()
        }
        listener.start()
        defer { listener.stop() }

        let clientA = try BlockingLineClient(host: "127.0.0.1", port: listener.localPort, tls: false)
        try clientA.send(line: "hello")
        #expect(try clientA.readLine() == "hello")
        let clientB = try BlockingLineClient(host: "127.0.0.1", port: listener.localPort, tls: false)
        try clientB.send(line: "NAME b")
        #expect(try clientB.readLine() == "OK NAME b")
        let (serverA, serverB) = try #require(accepted.withLock { $0.count == 2 ? ($0[0], $0[1]) : nil })
        let handlerA = try #require(scripted.withLock { $0 })

        // A's next line closes B and puts a fresh connection on B's fd number.
        let pair = Locked<[Int32]>([])
        handlerA.onLine = { line, _ in
            guard line == "CLOSE B" else { return }
            serverB.close(flush: false)
            var fds: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { return }
            Socket.setNonBlockingCloseOnExec(fds[0])
            let reused = Connection(fd: fds[0], tls: nil, slot: slot,
                                    peer: PeerAddress(host: "local", port: 0, isLoopback: true), maxOutboundBytes: 1 << 20)
            reused.handler = EchoHandler(recorder: recorder, id: reused.id)
            reused.start()
            pair.withLock { $0 = [fds[0], fds[1]] }
        }

        // Hold the slot's queue while both sockets become readable, so one epoll_wait returns
        // A's event and then B's.
        let staleBefore = slot.queue.sync { slot.staleEvents }
        let gate = DispatchSemaphore(value: 0)
        slot.queue.async { gate.wait() }
        try clientA.send(line: "CLOSE B")
        try clientB.send(line: "late line for b")   // loopback: in B's socket when send returns
        gate.signal()

        #expect(recorder.waitForClose("b") == [.localClose])
        let fds = try #require(eventually { pair.withLock { $0.count == 2 } } ? pair.withLock { $0 } : nil)
        // B's event was fetched in the same batch, after B left the set: dropped, not delivered.
        #expect(slot.queue.sync { slot.staleEvents } == staleBefore + 1)
        #expect(recorder.allViolations.isEmpty, "\(recorder.allViolations)")
        #expect(serverA.queue.sync { serverA.handler != nil })

        // The new connection on the reused fd number works, and saw none of B's bytes.
        let peerFD = fds[1]
        let ping = Array("NAME reused\r\n".utf8)
        #expect(Glibc.send(peerFD, ping, ping.count, Int32(MSG_NOSIGNAL)) == ping.count)
        var reply = [UInt8](repeating: 0, count: 256)
        var got: [UInt8] = []
        while !got.contains(10) {
            let n = recv(peerFD, &reply, reply.count, 0)
            guard n > 0 else { break }
            got += reply[0..<n]
        }
        #expect(String(decoding: got, as: UTF8.self) == "OK NAME reused\r\n")
        _ = Glibc.close(peerFD)
        #expect(recorder.waitForClose("reused") == [.peerClosed])
        clientA.close()
        clientB.close()
        #expect(recorder.allViolations.isEmpty)
    }
}

/// Echo, plus a hook run on each line (on the connection's queue).
final class ScriptedHandler: ConnectionHandler, @unchecked Sendable {
    private let recorder: Recorder
    private let label: String
    private var pendingLine: [UInt8] = []
    private var closed = false
    var onLine: ((String, Connection) -> Void)?

    init(recorder: Recorder, label: String) {
        self.recorder = recorder
        self.label = label
    }

    func connectionReady(_ connection: Connection) {}

    func connection(_ connection: Connection, didReceive bytes: UnsafeRawBufferPointer) {
        if closed { recorder.violation("\(label): data after close") }
        for byte in bytes {
            guard byte == 10 else {
                pendingLine.append(byte)
                continue
            }
            var line = pendingLine
            pendingLine.removeAll(keepingCapacity: true)
            if line.last == 13 { line.removeLast() }
            let text = String(decoding: line, as: UTF8.self)
            onLine?(text, connection)
            connection.send(line + [13, 10])
        }
    }

    func connectionClosed(_ connection: Connection, reason: CloseReason) {
        if closed { recorder.violation("\(label): closed twice") }
        closed = true
        recorder.closed(label: label, reason: reason)
    }
}
