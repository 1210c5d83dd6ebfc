import Foundation
@testable import PartnerlineServer
import PartnerlineTransport
import PartnerlineTestSupport
import Testing

/// Each limit seen over real sockets against a real in-process server. Timeouts in these
/// configs are short (1 s) so the tests are quick; nothing asserts that something happened
/// fast, only that it happened (client read timeouts of 20 s are hang guards).
@Suite struct ProtectionTests {
    static func config(_ dir: TempDir, protection: String, extraLimits: String = "", fsync: String = "batch") -> ServerConfig {
        TestConfig.make(dataDir: dir.path, fsync: fsync, extraLimits: extraLimits, protection: protection)
    }

    /// Reads until the server closes; returns the lines and how the stream ended.
    static func readToEnd(_ client: BlockingLineClient) -> (lines: [String], end: TransportError.Kind?) {
        var lines: [String] = []
        while true {
            do {
                lines.append(try client.readLine())
            } catch let error as TransportError {
                return (lines, error.kind)
            } catch {
                return (lines, nil)
            }
        }
    }

    @Test func aFloodIsSlowedThenRefused() throws {
        let dir = TempDir()
        let burst = 3, rate = 10.0, maxDelayed = 5
        let server = try InProcessServer(Self.config(dir, protection: """
            protection:
              flood: { burst: \(burst), rate_per_second: \(rate), max_delayed: \(maxDelayed) }
            """))
        let client = try server.client()
        let count = 20
        let started = Date()
        try client.connection.send(raw: Array((1...count).map { "@p\($0) PING \($0)\n" }.joined().utf8))
        var replies: [String] = []
        var lastOK = started
        for _ in 1...count {
            let line = try client.readLine()
            if line.contains(" OK PING") { lastOK = Date() }
            replies.append(line)
        }
        // In command order: the burst and the delayed ones are answered OK, the rest refused.
        #expect(replies.map { $0.split(separator: " ")[0] } == (1...count).map { "@p\($0)" })
        let answered = replies.prefix { $0.contains(" OK PING") }.count
        #expect(answered >= burst + maxDelayed)
        #expect(answered < count)
        for line in replies.dropFirst(answered) {
            #expect(line.contains(" ERR RATE_LIMITED PING :too many commands at once"), "\(line)")
        }
        // Slowed: the bucket cannot have let the delayed commands through sooner than this
        // (a lower bound, which a slow machine only makes larger).
        let delayed = answered - burst
        #expect(lastOK.timeIntervalSince(started) >= Double(delayed) / rate * 0.99)
        // The connection stays usable once the bucket refills.
        #expect(try client.final("PING again") == "OK PING :again")
    }

    @Test func theConnectionOverTheLimitFromOneAddressIsRefused() throws {
        let dir = TempDir()
        let server = try InProcessServer(Self.config(dir, protection: """
            protection:
              connections: { max_per_address: 3, max_new_per_address: 1000 }
            """))
        let clients = try (1...3).map { _ in try server.client() }
        for client in clients { #expect(client.greeting.hasPrefix("HELLO partnerline/1")) }
        let fourth = try server.client()
        #expect(fourth.greeting == "BYE TOO_MANY_CONNECTIONS :at most 3 connections at once from one address")
        #expect(Self.readToEnd(fourth.connection).end == .endOfStream)
        // The first three are untouched; once one leaves, a new one gets in.
        #expect(try clients[0].final("PING") == "OK PING")
        clients[2].close()
        var admitted = false
        for _ in 0..<200 where !admitted {
            let next = try server.client()
            admitted = next.greeting.hasPrefix("HELLO")
            if !admitted { Thread.sleep(forTimeInterval: 0.02) }
        }
        #expect(admitted)
    }

    @Test func tooManyNewConnectionsFromOneAddressInAWindowAreRefused() throws {
        let dir = TempDir()
        let server = try InProcessServer(Self.config(dir, protection: """
            protection:
              connections: { max_per_address: 100, max_new_per_address: 2, new_window_seconds: 3600 }
            """))
        for _ in 0..<2 {
            let client = try server.client()
            #expect(client.greeting.hasPrefix("HELLO"))
            client.close()
        }
        let third = try server.client()
        #expect(third.greeting == "BYE TOO_MANY_CONNECTIONS :at most 2 new connections from one address per 3600 s; try again later")
    }

    @Test func theServerWideMaximumRefusesTheNextConnection() throws {
        let dir = TempDir()
        let server = try InProcessServer(Self.config(dir, protection: """
            protection:
              connections: { max_per_address: 100, max_new_per_address: 1000, max_total: 2 }
            """))
        let first = try server.client(), second = try server.client(tls: false)
        #expect(first.greeting.hasPrefix("HELLO") && second.greeting.hasPrefix("HELLO"))
        #expect(try server.client().greeting == "BYE TOO_MANY_CONNECTIONS :the server is full (2 connections)")
    }

    @Test func aReaderThatNeverReadsIsCutOffWhileOthersKeepGettingEvents() throws {
        let dir = TempDir()
        let log = LogCapture()
        let server = try InProcessServer(Self.config(dir, protection: TestConfig.relaxedProtection,
                                                     extraLimits: "  max_outbound_bytes: 16384", fsync: "os"), logCapture: log)
        let room = "rural-east-midlands/general"
        // A small receive window, so the server's buffer fills after little data.
        let slow = try TestClient(port: server.tlsPort, tls: true, receiveBufferBytes: 4096)
        try slow.login("slow-reader")
        #expect(try slow.final("JOIN \(room)").hasPrefix("OK JOIN"))
        let fast = try server.client()
        try fast.login("fast-reader")
        #expect(try fast.final("JOIN \(room)").hasPrefix("OK JOIN"))

        let text = String(repeating: "x", count: 3000)
        var posted = 0
        var slowGone = false
        for _ in 0..<2000 where !slowGone {   // a hang guard, far above what is needed
            let batch = 20
            try fast.connection.send(raw: Array((1...batch).map { "SAY \(room) \(posted + $0) \(text)\n" }.joined().utf8))
            var oks = 0
            while oks < batch {
                let line = try fast.readLine()
                if line.hasPrefix("OK SAY") { oks += 1 } else { #expect(line.hasPrefix("EV \(room)")) }
            }
            posted += batch
            let who = try fast.send("WHO \(room)")
            slowGone = who.contains { $0.hasPrefix("* MEMBER slow-reader online=no") }
        }
        #expect(slowGone)
        // The session saw it coming and said BYE SLOW_CONSUMER, rather than the buffer overflowing.
        #expect(log.messages.contains("warning slow consumer disconnected"))
        #expect(!log.messages.contains { $0.contains("no BYE") })
        // Deliveries to the fast reader go on: it gets its own events live.
        for index in 1...5 {
            let reply = try fast.send("SAY \(room) after the cut \(index)")
            #expect(reply.count == 2 && reply[0].hasSuffix("SAY :after the cut \(index)") && reply[1].hasPrefix("OK SAY"))
        }
        // The slow reader finds its stream ended, far short of everything that was posted; the
        // BYE SLOW_CONSUMER is best effort (it reaches a client that reads again within 2 s).
        let (lines, end) = Self.readToEnd(slow.connection)
        #expect(end == .endOfStream)
        #expect(lines.filter { $0.hasPrefix("EV ") }.count < posted)
        if let last = lines.last, last.hasPrefix("BYE") { #expect(last.hasPrefix("BYE SLOW_CONSUMER")) }
    }

    @Test func aStalledHandshakeIsDropped() throws {
        let dir = TempDir()
        let server = try InProcessServer(Self.config(dir, protection: TestConfig.relaxedProtection + "\n  timeouts: { handshake_seconds: 1 }"))
        // TCP only: connects to the TLS port and never says a word.
        let silent = try BlockingLineClient(host: "127.0.0.1", port: server.tlsPort, tls: false, timeoutSeconds: 20)
        #expect(Self.readToEnd(silent).end == .endOfStream)
        // Half-open: the start of a ClientHello record, then nothing.
        let halfOpen = try BlockingLineClient(host: "127.0.0.1", port: server.tlsPort, tls: false, timeoutSeconds: 20)
        try halfOpen.send(raw: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        #expect(Self.readToEnd(halfOpen).end == .endOfStream)
        // A real client is unaffected.
        #expect(try server.client().final("PING") == "OK PING")
    }

    @Test func aClientThatNeverLogsInIsDisconnected() throws {
        let dir = TempDir()
        let server = try InProcessServer(Self.config(dir, protection: TestConfig.relaxedProtection + "\n  timeouts: { registration_seconds: 1 }"))
        let client = try server.client()
        #expect(try client.final("PING") == "OK PING")
        let (lines, end) = Self.readToEnd(client.connection)
        #expect(lines == ["BYE LOGIN_TIMEOUT :no LOGIN within 1 s; reconnect and LOGIN"])
        #expect(end == .endOfStream)
    }

    @Test func anIdleClientIsPingedAndOneThatDoesNotAnswerIsDisconnected() throws {
        let dir = TempDir()
        let server = try InProcessServer(Self.config(dir, protection: TestConfig.relaxedProtection
            + "\n  timeouts: { idle_seconds: 1, ping_timeout_seconds: 1 }"))
        let client = try server.client()
        try client.login("boston-mind")
        #expect(try client.readLine() == "PING pl1")
        try client.connection.send(line: "PONG pl1")
        #expect(try client.readLine() == "PING pl2")
        let (lines, end) = Self.readToEnd(client.connection)
        #expect(lines == ["BYE PING_TIMEOUT :no answer to PING within 1 s"])
        #expect(end == .endOfStream)
    }

    @Test func failedLoginsAreThrottledPerAccountAndPerAddress() throws {
        let dir = TempDir()
        let server = try InProcessServer(Self.config(dir, protection: """
            protection:
              logins: { max_failures_per_account: 2, max_failures_per_address: 4, window_seconds: 3600 }
            """))
        let client = try server.client()
        try client.login("boston-mind")
        let guesser = try server.client()
        for _ in 0..<2 { #expect(try guesser.final("LOGIN boston-mind wrong-password-1").hasPrefix("ERR AUTH_FAILED LOGIN")) }
        // Even the right password is not checked now.
        #expect(try guesser.final("LOGIN boston-mind correct-horse-battery")
            == "ERR RATE_LIMITED LOGIN :too many failed logins for account boston-mind; try again in 3600 s")
        // Per address: two more failures on other names fill the address's allowance.
        for name in ["lincoln-aid", "rutland-care"] {
            #expect(try guesser.final("LOGIN \(name) wrong-password-1").hasPrefix("ERR AUTH_FAILED LOGIN"))
        }
        #expect(try guesser.final("LOGIN grantham-youth correct-horse-battery")
            == "ERR RATE_LIMITED LOGIN :too many failed logins for address 127.0.0.1; try again in 3600 s")
        // The session logged in before is not affected.
        #expect(try client.final("PING") == "OK PING")
    }
}
