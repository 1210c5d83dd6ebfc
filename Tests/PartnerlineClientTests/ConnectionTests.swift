import Foundation
import PartnerlineClient
import PartnerlineTransport
import PartnerlineTestSupport
import Testing

/// The connection against the real server binary over real TLS.
@Suite(.timeLimit(.minutes(3)))
struct ConnectionTests {
    @Test func commandsGetTheirWholeReplyAndEventsStream() async throws {
        let server = try RealServer()
        let bot = try await PartnerlineConnection.connect(server.caOptions)
        #expect(bot.hello.protocolVersion == "partnerline/1" && bot.hello.serverName == "client-test")
        #expect(bot.serverFingerprint == server.certificate.fingerprint)
        try await bot.registerAndLogin("grant-bot")
        let join = try await bot.send(.join("c1/funding")).checked()
        #expect(join["room"] == "c1/funding")

        // Several commands in flight from several tasks: each reply finds its caller.
        async let a = bot.send(.say("c1/funding", "first"))
        async let b = bot.send(.who("c1/funding"))
        async let c = bot.send(.say("c1/general", "x"))
        let (sayA, who, bad) = try await (a, b, c)
        #expect(sayA.ok?["seq"] == "1")
        #expect(who.ok?.verb == "WHO" && who.data.map(\.word) == ["MEMBER"] && who.data.first?.text == "Org grant-bot")
        #expect(bad.error?.code == "NOT_JOINED" && bad.error?.verb == "SAY")
        #expect(throws: ErrorReply.self) { try bad.checked() }

        // A quoted funder and a text with ' :' come back whole, live and in HISTORY.
        let title = "Awards for All: small grants :: \"quoted\""
        let funder = "National Lottery Community Fund"
        _ = try await bot.send(ClientCommand("SAY", ["c1/funding"], options: [], text: title)).checked()
        let history = try await bot.send(.history("c1/funding")).checked()
        #expect(history["count"] == "2")
        let replied = try await bot.send(.history("c1/funding", after: 1))
        #expect(replied.events.map(\.seq) == [2] && replied.events.first?.text == title && replied.events.first?.tag == replied.tag)

        var live: [Event] = []
        for await message in bot.messages {
            if case .event(let event) = message { live.append(event) }
            if live.count == 2 { break }
        }
        #expect(live.map(\.seq) == [1, 2] && live.allSatisfy { $0.tag == nil } && live[1].text == title)

        let help = try await bot.send(.help("SAY"))
        #expect(help.data.first?.word == "HELP" && help.data.first?["usage"]?.hasPrefix("SAY <room>") == true)
        let register = try await bot.send(.register("org-two", password: "pw-long-enough", org: funder))
        #expect(register.ok != nil)

        let quit = try await bot.send(.quit("done"))
        #expect(try quit.checked().verb == "QUIT" && quit.checked().text == "done")
        let end = await bot.closed()
        #expect(end.kind == .closed && end.bye?.code == "QUIT")
        await #expect(throws: ConnectionError.self) { try await bot.send(.clusters) }
    }

    @Test func answersPingByItself() async throws {
        let server = try RealServer(timeouts: "idle_seconds: 0.3, ping_timeout_seconds: 1.0")
        let client = try await PartnerlineConnection.connect(server.caOptions)
        try await client.registerAndLogin("quiet-bot")
        // The control: a raw client that does not answer is dropped for it.
        let raw = try BlockingLineClient(host: "127.0.0.1", port: server.port, tls: true, timeoutSeconds: 20)
        #expect(try raw.readLine().hasPrefix("HELLO"))
        var rawLines: [String] = []
        while let line = try? raw.readLine() {
            rawLines.append(line)
            if line.hasPrefix("BYE") { break }
        }
        #expect(rawLines.first?.hasPrefix("PING ") == true && rawLines.last?.hasPrefix("BYE PING_TIMEOUT") == true, "\(rawLines)")
        // Meanwhile the library's client, silent on its side and never reading `messages`, was
        // pinged as well and answered: it is still connected.
        #expect(try await client.send(.ping("tok-1")).ok?.text == "tok-1")
        client.close()
        #expect(await client.closed().kind == .closed)
    }

    @Test func hostnameMismatchIsRefusedInTheHandshake() async throws {
        let server = try RealServer(certificateNames: ["other.example"])
        for host in ["127.0.0.1", "localhost"] {
            do {
                _ = try await PartnerlineConnection.connect(server.options(.certificateAuthority(file: server.certificate.certificate), host: host))
                Issue.record("connected to \(host) with a certificate for other.example")
            } catch {
                #expect(error.kind == .tls)
                #expect(error.message.contains("mismatch"), "\(error)")
            }
        }
        // The same certificate by pin is fine: the pin is the identity, not the name.
        let pinned = try await PartnerlineConnection.connect(server.options(.pinnedFingerprint(Fingerprint.display(server.certificate.fingerprint))))
        pinned.close()
    }

    @Test func aCertificateOfTheRightNameIsCheckedByNameAndIP() async throws {
        let server = try RealServer()
        for host in ["127.0.0.1", "localhost"] {
            let client = try await PartnerlineConnection.connect(server.options(.certificateAuthority(file: server.certificate.certificate), host: host))
            client.close()
        }
        // A CA that did not sign it.
        let other = try TestCertificate(in: server.dir.path, name: "other")
        await #expect(throws: ConnectionError.self) {
            try await PartnerlineConnection.connect(server.options(.certificateAuthority(file: other.certificate)))
        }
    }

    @Test func aChangedCertificateIsRefusedNamingBothFingerprintsAndTheLine() async throws {
        let server = try RealServer()
        let knownHosts = server.dir.path + "/client/known_hosts"
        try FileManager.default.createDirectory(atPath: server.dir.path + "/client", withIntermediateDirectories: true)
        try "# Partnerline servers\nexample.org:7443 sha256:\(String(repeating: "ab", count: 32))\n"
            .write(toFile: knownHosts, atomically: true, encoding: .utf8)
        let first = try await PartnerlineConnection.connect(server.options(.knownHosts(file: knownHosts)))
        first.close()
        let recorded = try String(contentsOfFile: knownHosts, encoding: .utf8)
        #expect(recorded.hasSuffix("127.0.0.1:\(server.port) sha256:\(server.certificate.fingerprint)\n"))
        // Same certificate again: trusted.
        let again = try await PartnerlineConnection.connect(server.options(.knownHosts(file: knownHosts)))
        again.close()

        let old = server.certificate.fingerprint
        server.stop()
        server.replaceCertificate(try TestCertificate(in: server.dir.path, name: "replaced"))
        try server.start()
        do {
            _ = try await PartnerlineConnection.connect(server.options(.knownHosts(file: knownHosts)))
            Issue.record("a changed certificate was accepted")
        } catch {
            #expect(error.kind == .untrustedServer)
            #expect(error.message.contains(Fingerprint.display(server.certificate.fingerprint)), "\(error)")
            #expect(error.message.contains(Fingerprint.display(old)), "\(error)")
            #expect(error.message.contains("\(knownHosts), line 3"), "\(error)")
        }
        // Refused means refused: the file is unchanged, and a pin of the old one refuses too.
        #expect(try String(contentsOfFile: knownHosts, encoding: .utf8) == recorded)
        do {
            _ = try await PartnerlineConnection.connect(server.options(.pinnedFingerprint(old)))
            Issue.record("a wrong pin was accepted")
        } catch {
            #expect(error.kind == .untrustedServer && error.message.contains(Fingerprint.display(old)))
        }
    }

    @Test func plaintextIsRefusedToANonLoopbackAddressBeforeAnythingIsSent() async throws {
        guard let address = nonLoopbackIPv4() else { return }   // a machine with loopback only
        let listener = try PlainListener()
        do {
            _ = try await PartnerlineConnection.connect(
                ConnectionOptions(host: address, port: listener.port, security: .plaintextLoopback, timeoutSeconds: 5))
            Issue.record("plaintext to \(address) was allowed")
        } catch {
            #expect(error.kind == .plaintextNotLoopback, "\(error)")
        }
        #expect(listener.acceptAndReadAll() == 0)   // not a byte, not even a greeting answered

        // Loopback plaintext is fine (to a real listener: here the same one, on 127.0.0.1).
        await #expect(throws: ConnectionError.self) {   // it sends no HELLO: times out, not refused
            try await PartnerlineConnection.connect(
                ConnectionOptions(host: "127.0.0.1", port: listener.port, security: .plaintextLoopback, timeoutSeconds: 1))
        }
        do {
            _ = try await PartnerlineConnection.connect(
                ConnectionOptions(host: "127.0.0.1", port: listener.port, security: .tls(.pinnedFingerprint("zz")), timeoutSeconds: 5))
            Issue.record("a malformed pin was accepted")
        } catch {
            #expect(error.kind == .untrustedServer)
        }
    }

    @Test func aBotLogsInWithAClientCertificate() async throws {
        let server = try RealServer()
        let setup = try await PartnerlineConnection.connect(server.caOptions)
        try await setup.registerAndLogin("cert-bot")
        setup.close()
        let botCertificate = try TestCertificate(in: server.dir.path, name: "cert-bot", altNames: ["cert-bot"])
        server.stop()
        server.clientCertificates = [(botCertificate.fingerprint, "cert-bot")]
        try server.start()

        let identity = ClientCertificate(certificateFile: botCertificate.certificate, privateKeyFile: botCertificate.key)
        let options = ConnectionOptions(host: "127.0.0.1", port: server.port,
                                        security: .tls(.certificateAuthority(file: server.certificate.certificate), clientCertificate: identity),
                                        timeoutSeconds: 20)
        let session = PartnerlineSession(options: options, account: "cert-bot", password: "*")
        let inbox = Inbox()
        let collector = collect(session, into: inbox)
        await session.start()
        try await eventually("logged in by certificate") { await inbox.stateNames.contains("connected") }
        #expect(try await session.send(.join("c1/general")).ok != nil)
        await session.stop()
        await collector.value

        // Without the certificate the same LOGIN is refused, and the session stops instead of retrying.
        let refused = PartnerlineSession(options: server.caOptions, account: "cert-bot", password: "*")
        let refusedInbox = Inbox()
        let refusedCollector = collect(refused, into: refusedInbox)
        await refused.start()
        await refusedCollector.value
        #expect(await refusedInbox.stateNames == ["connecting", "stopped"])
        guard case .stopped(let error?) = await refusedInbox.states.last else { Issue.record("no reason"); return }
        #expect(error.message.contains("AUTH_FAILED"))
    }

    @Test func aCommandThatCannotBeEncodedIsRefusedAndTheConnectionStaysUsable() async throws {
        let server = try RealServer()
        let client = try await PartnerlineConnection.connect(server.caOptions)
        await #expect(throws: ConnectionError.self) { try await client.send(.say("c1/general", "a\r\nQUIT")) }
        await #expect(throws: ConnectionError.self) {
            try await client.send(.say("c1/general", String(repeating: "x", count: 5000)))
        }
        #expect(try await client.send(.ping("still-here")).ok?.text == "still-here")
        client.close()
    }
}

@Suite struct KnownHostsTests {
    @Test func decidesFromTheFileWithLineNumbers() {
        let pin = String(repeating: "0f", count: 32)
        let other = String(repeating: "e1", count: 32)
        let file = KnownHosts(contents: """
            # comment
            a.example:7443 sha256:\(Fingerprint.display(pin))

            [::1]:7443 \(other)  # trailing comment
            broken line
            b.example:1 sha256:nothex
            """)
        #expect(file.entries.map(\.line) == [2, 4])
        #expect(file.decide(hostPort: "a.example:7443", fingerprint: pin) == .trusted)
        #expect(file.decide(hostPort: "[::1]:7443", fingerprint: other) == .trusted)
        guard case .changed(let known) = file.decide(hostPort: "a.example:7443", fingerprint: other) else {
            Issue.record("a changed fingerprint was not noticed")
            return
        }
        #expect(known.line == 2 && known.fingerprint == pin)
        let message = KnownHosts.changedMessage(hostPort: "a.example:7443", presented: other, known: known, file: "/k")
        #expect(message.contains(Fingerprint.display(pin)) && message.contains(Fingerprint.display(other)) && message.contains("/k, line 2"))
        #expect(file.decide(hostPort: "a.example:7444", fingerprint: pin) == .firstUse(lineToAppend: "a.example:7444 sha256:\(pin)\n"))
    }

    @Test func normalizesFingerprints() {
        let hex = String(repeating: "ab", count: 32)
        #expect(Fingerprint.normalized("SHA256 Fingerprint=" + Fingerprint.display(hex)) == hex)
        #expect(Fingerprint.normalized("sha256:" + hex.uppercased()) == hex)
        #expect(Fingerprint.normalized(hex + "ab") == nil)
        #expect(Fingerprint.normalized("zz") == nil)
    }
}

/// A bare TCP listener on every IPv4 address, to see what a client sends (nothing, we hope).
final class PlainListener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = 0
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 8) == 0 else { throw TestFailure("listen: \(errno)") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Accepts the first connection and counts what it sends until it closes (bounded by 5 s).
    func acceptAndReadAll() -> Int {
        let client = accept(fd, nil, nil)
        guard client >= 0 else { return -1 }
        defer { close(client) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(client, &buffer, buffer.count, 0)
            if n <= 0 { return total }
            total += n
        }
    }

    deinit { close(fd) }
}

/// An IPv4 address of this machine that is not loopback, if it has one.
func nonLoopbackIPv4() -> String? {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0 else { return nil }
    defer { freeifaddrs(list) }
    var cursor = list
    while let entry = cursor {
        cursor = entry.pointee.ifa_next
        guard let address = entry.pointee.ifa_addr, Int32(address.pointee.sa_family) == AF_INET else { continue }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0
        else { continue }
        let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if !text.hasPrefix("127.") { return text }
    }
    return nil
}
