import Foundation
@testable import FundingBot
import PartnerlineClient
import PartnerlineTransport
import PartnerlineTestSupport
import Testing

/// The real `partnerline-fundingbot` binary against the real `partnerline-server` binary over TLS,
/// with every sample feed served over HTTP on loopback (plus a broken one), logging in by client
/// certificate as a bot account an admin made a bot.
@Suite("partnerline-fundingbot end to end", .serialized, .timeLimit(.minutes(5)))
final class EndToEndTests {
    let dir = TempDir(prefix: "fundingbot-test-")
    let http: FeedHTTPServer
    var server: ServerUnderTest
    var admin: LineClient
    let serverConfig: String
    let botCert: String
    let botKey: String

    static let rooms = ["rural-east-midlands/funding", "inner-city-north/funding", "community-south/funding"]

    /// What the shipped samples and routes post (RoutingAndAlertTests.samplePlan checks the same plan without a server).
    static let expected: [String: Set<String>] = [
        "rural-east-midlands/funding": ["community-chest-csv:SAMPLE-CSV-002", "funders-json:LWYF-2027",
                                        "fwcf-rss:fwcf-2026-rtp", "fwcf-rss:fwcf-2026-vhe"],
        "inner-city-north/funding": ["funders-json:GMHP-2027", "funders-json:LWYF-2027",
                                     "nct-atom:urn:nct:2026:food-bank-resilience", "nct-atom:urn:nct:2026:young-refugees-mentoring"],
        "community-south/funding": ["community-chest-csv:SAMPLE-CSV-001", "sport-together:4d2f3c1a-7b1e-4b8e-9c3a-0a1b2c3d4e01",
                                    "sport-together:4d2f3c1a-7b1e-4b8e-9c3a-0a1b2c3d4e02"],
    ]

    init() throws {
        // The bot's own key and self-signed certificate; the server maps its SHA-256 to the account.
        botCert = dir.path + "/bot.crt"
        botKey = dir.path + "/bot.key"
        try CertificateFactory.makeSelfSigned(commonName: "funding-alerts-bot", subjectAltNames: [], days: 30,
                                              certificatePath: botCert, privateKeyPath: botKey)
        let fingerprint = try #require(TLSFingerprint.sha256Hex(pemFile: botCert))
        let config = dir.path + "/server.yaml"
        serverConfig = config
        try Self.serverYAML(dataDir: dir.path + "/data", botFingerprint: fingerprint).write(toFile: config, atomically: true, encoding: .utf8)
        // The first admin, made on the stopped data dir.
        let made = try ChildProcess.run([Binaries.path("partnerline-server"), "admin", "ops-team", "--config", config],
                                   stdin: "a-long-admin-password\n")
        guard made.status == 0 else { throw TestFailure("admin: \(made.output)") }
        server = try ServerUnderTest(config: config, logDir: dir.path)
        admin = try LineClient(port: server.tlsPort)
        #expect(try admin.final("LOGIN ops-team a-long-admin-password").hasPrefix("OK LOGIN account=ops-team role=admin"))
        // The bot's account, made a bot by the admin.
        let bot = try LineClient(port: server.tlsPort)
        #expect(try bot.final("REGISTER funding-alerts-bot a-password-never-used org=\"Funding alerts\"") == "OK REGISTER account=funding-alerts-bot")
        bot.connection.close()
        #expect(try admin.final("GRANT funding-alerts-bot bot") == "OK GRANT account=funding-alerts-bot role=bot")
        for room in Self.rooms { #expect(try admin.final("JOIN \(room)").hasPrefix("OK JOIN")) }

        http = try FeedHTTPServer()
        // Validators differ per feed: an ETag, a Last-Modified, and none (read in full every time).
        http.serve("/fwcf.rss", .init(file: Samples.path("grants.rss.xml"), contentType: "application/rss+xml", etag: "\"fwcf-1\""))
        http.serve("/nct.atom", .init(file: Samples.path("grants.atom.xml"), contentType: "application/atom+xml",
                                      lastModified: "Tue, 01 Dec 2026 10:00:00 GMT"))
        http.serve("/sport.json", .init(file: Samples.path("grants.commongrants.json"), contentType: "application/json"))
        http.serve("/funders.json", .init(file: Samples.path("grants.json"), contentType: "application/json"))
        http.serve("/chest.csv", .init(file: Samples.path("grants.csv"), contentType: "text/csv"))
        let broken = dir.path + "/broken.rss"
        try "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Cut off</title><item><title>Half an item"
            .write(toFile: broken, atomically: true, encoding: .utf8)
        http.serve("/broken.rss", .init(file: broken, contentType: "application/rss+xml"))
        http.serve("/down.json", .init(file: "", contentType: "application/json", behaviour: .status(503)))
        http.serve("/slow.atom", .init(file: "", contentType: "application/atom+xml", behaviour: .slow(interval: 0.5)))
    }

    deinit {
        server.stop()
        http.stop()
    }

    static func serverYAML(dataDir: String, botFingerprint: String) -> String {
        let rooms = """
                rooms:
                  - name: general
                    topic: News
                  - name: funding
                    topic: Grant alerts
            """
        return """
            server_name: fundingbot-test
            data_dir: \(dataDir)
            listen:
              host: 127.0.0.1
              tls_port: 0
            tls:
              client_certificates:
                - sha256: "\(botFingerprint)"
                  account: funding-alerts-bot
            registration:
              policy: open
            passwords:
              scrypt_log2_n: 4
            protection:
              flood: { burst: 100000, rate_per_second: 100000, bot_burst: 100000, bot_rate_per_second: 100000, max_delayed: 100000 }
              connections: { max_per_address: 10000, max_new_per_address: 100000 }
              logins: { max_failures_per_account: 100000, max_failures_per_address: 100000 }
            clusters:
              - name: rural-east-midlands
                description: Rural cluster
            \(rooms)
              - name: inner-city-north
                description: Inner-city cluster
            \(rooms)
              - name: community-south
                description: Community cluster
            \(rooms)
            """
    }

    /// The shipped Config/fundingbot.yaml, pointed at this server, certificate, state dir and the
    /// loopback HTTP server, with the broken feed added.
    func botConfig(stateDir: String, port: Int? = nil) throws -> String {
        var yaml = try String(contentsOfFile: Samples.repositoryRoot + "/Config/fundingbot.yaml", encoding: .utf8)
        let replacements = [
            ("server: 127.0.0.1:7443", "server: 127.0.0.1:\(port ?? server.tlsPort)"),
            ("  password_file: data/fundingbot/password", "  certificate_file: \(botCert)\n  key_file: \(botKey)"),
            ("  ca_file: data/tls/self-signed.crt", "  ca_file: \(dir.path)/data/tls/self-signed.crt"),
            ("state_dir: data/fundingbot", "state_dir: \(stateDir)"),
            ("url: Config/samples/grants.rss.xml", "url: \(http.url("/fwcf.rss"))"),
            ("url: Config/samples/grants.atom.xml", "url: \(http.url("/nct.atom"))"),
            ("url: Config/samples/grants.commongrants.json", "url: \(http.url("/sport.json"))"),
            ("url: Config/samples/grants.json", "url: \(http.url("/funders.json"))"),
            ("url: Config/samples/grants.csv", "url: \(http.url("/chest.csv"))"),
            ("\n# Routes:", "\n  - name: broken-rss\n    url: \(http.url("/broken.rss"))\n    format: rss\n\n# Routes:"),
            // A feed that is down and one that never finishes come first: the others must go on.
            ("\nfeeds:\n", "\nfeeds:\n  - name: down-json\n    url: \(http.url("/down.json"))\n    format: commongrants\n"
                + "  - name: slow-atom\n    url: \(http.url("/slow.atom"))\n    format: atom\n"),
            ("  timeout_seconds: 20", "  timeout_seconds: 2"),
        ]
        for (old, new) in replacements {
            guard yaml.contains(old) else { throw TestFailure("Config/fundingbot.yaml no longer has '\(old)'") }
            yaml = yaml.replacingOccurrences(of: old, with: new)
        }
        let path = dir.path + "/fundingbot-\(UUID().uuidString).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func bot(_ flags: [String], config: String) throws -> ChildProcess.Result {
        try ChildProcess.run([Binaries.path("partnerline-fundingbot"), "--config", config] + flags)
    }

    /// The refs of the FUNDING events stored in each funding room, in order: HISTORY's own lines
    /// (tagged), not the live events the admin also receives as a member of the rooms.
    func fundingRefs() throws -> [String: [String]] {
        var refs: [String: [String]] = [:]
        for room in Self.rooms {
            let lines = try admin.tagged("h", "HISTORY \(room) limit=500")
            #expect(lines.last?.hasPrefix("@h OK HISTORY") == true)
            refs[room] = lines.filter { $0.hasPrefix("@h EV \(room) ") && $0.contains(" FUNDING ") }.map { line in
                let words = line.split(separator: " ")
                guard let ref = words.first(where: { $0.hasPrefix("ref=") }) else { return "(no ref) \(line)" }
                var value = String(ref.dropFirst(4))
                if value.hasPrefix("\"") { value = String(value.dropFirst().dropLast()) }
                return value
            }
        }
        return refs
    }

    /// The stored FUNDING event lines of a room.
    func fundingEvents(_ room: String) throws -> [String] {
        try admin.tagged("h", "HISTORY \(room) limit=500").filter { $0.hasPrefix("@h EV \(room) ") && $0.contains(" FUNDING ") }
    }

    @Test("Every format posted into exactly the right rooms; a second run, a run without state and a dry run post nothing")
    func postsOnce() throws {
        let state = dir.path + "/state"
        let config = try botConfig(stateDir: state)

        // Under the approval policy the bot's JOIN is a request: its alerts for that cluster wait.
        #expect(try admin.final("POLICY community-south approval").hasPrefix("OK POLICY"))
        let first = try bot(["--once"], config: config)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("broken-rss"))
        #expect(first.output.contains("malformed XML"))
        #expect(first.output.contains("feed down-json:") && first.output.contains("HTTP 503"))
        #expect(first.output.contains("feed slow-atom:"))
        #expect(first.output.contains("APPROVE community-south funding-alerts-bot"))
        #expect(first.output.contains("run done: 8 posted, 0 already on the server, 3 waiting, 0 refused, 3 feed(s) failed"))
        var refs = try fundingRefs()
        #expect(Set(refs["rural-east-midlands/funding"]!) == Self.expected["rural-east-midlands/funding"]!)
        #expect(Set(refs["inner-city-north/funding"]!) == Self.expected["inner-city-north/funding"]!)
        #expect(refs["community-south/funding"]!.isEmpty)

        // A facilitator (here the admin) approves; the next run posts what waited.
        #expect(try admin.final("APPROVE community-south funding-alerts-bot").hasPrefix("OK APPROVE"))
        let second = try bot(["--once"], config: config)
        #expect(second.status == 0, "\(second.output)")
        refs = try fundingRefs()
        for room in Self.rooms {
            #expect(refs[room]!.count == Self.expected[room]!.count, "\(room): \(refs[room]!)")
            #expect(Set(refs[room]!) == Self.expected[room]!)
        }
        // The events are the bot's, with the feed's values.
        let rural = try fundingEvents("rural-east-midlands/funding").filter { $0.contains("ref=fwcf-rss:fwcf-2026-rtp") }
        #expect(rural.count == 1)
        #expect(rural.first?.contains(" funding-alerts-bot FUNDING ") == true)
        #expect(rural.first?.contains("funder=\"Fenland and Wolds Community Foundation (sample)\"") == true)
        #expect(rural.first?.contains("deadline=2030-03-31") == true)
        #expect(rural.first?.contains("tags=transport,rural") == true)

        // Third run: nothing new. The RSS feed was a conditional GET answered 304 (ETag), the
        // Atom feed too (Last-Modified); the others were read in full and skipped by the state.
        let third = try bot(["--once"], config: config)
        #expect(third.status == 0, "\(third.output)")
        #expect(try fundingRefs() == refs)
        #expect(http.requests(to: "/fwcf.rss").last?.answered == 304)
        #expect(http.requests(to: "/fwcf.rss").last?.headers["if-none-match"] == "\"fwcf-1\"")
        #expect(http.requests(to: "/nct.atom").last?.answered == 304)
        #expect(http.requests(to: "/nct.atom").last?.headers["if-modified-since"] == "Tue, 01 Dec 2026 10:00:00 GMT")
        #expect(http.requests(to: "/sport.json").last?.answered == 200)

        // State lost: the server's ref= answers duplicate=yes and stores nothing.
        try FileManager.default.removeItem(atPath: state)
        let fourth = try bot(["--once"], config: config)
        #expect(fourth.status == 0, "\(fourth.output)")
        #expect(try fundingRefs() == refs)
        #expect(fourth.output.contains("run done: 0 posted, 11 already on the server, 0 waiting, 0 refused, 3 feed(s) failed"))
        let log = try String(contentsOfFile: state + "/posted.log", encoding: .utf8)
        #expect(log.split(separator: "\n").count == 11)
        #expect(log.split(separator: "\n").allSatisfy { $0.contains("\"duplicate\":true") })

        // A dry run prints what it would post and where, posts nothing, changes no state.
        try FileManager.default.removeItem(atPath: state)
        let dry = try bot(["--dry-run"], config: config)
        #expect(dry.status == 0, "\(dry.output)")
        #expect(dry.output.components(separatedBy: "would post to ").count - 1 == 11)
        #expect(dry.output.contains("would post to community-south/funding: FUNDING community-south/funding funder="))
        #expect(try fundingRefs() == refs)
        #expect(!FileManager.default.fileExists(atPath: state))

        // --explain says why for each opportunity, posting nothing.
        let explain = try bot(["--explain"], config: config)
        #expect(explain.status == 0)
        #expect(explain.output.contains("\"Digital Skills for Small Charities\""))
        #expect(explain.output.contains("matched no route"))
        #expect(explain.output.contains("not posted: closed on 2025-02-28"))
        #expect(explain.output.contains("not posted: status is closed"))
        #expect(try fundingRefs() == refs)
    }

    @Test("The Python example bot (standard library only) logs in, joins, posts a FUNDING with a ref once, prints events")
    func pythonBot() throws {
        let script = Samples.repositoryRoot + "/Config/examples/funding_bot.py"
        let source = try String(contentsOfFile: script, encoding: .utf8)
        #expect(source.split(separator: "\n", omittingEmptySubsequences: false).count < 60)
        #expect(!source.contains("import partnerline"))
        // A password account with the bot role.
        let setup = try LineClient(port: server.tlsPort)
        #expect(try setup.final("REGISTER grants-py a-long-py-password") == "OK REGISTER account=grants-py")
        #expect(try admin.final("GRANT grants-py bot") == "OK GRANT account=grants-py role=bot")
        let run = ["/usr/bin/env", "PARTNERLINE_PASSWORD=a-long-py-password", "python3", script,
                   "127.0.0.1:\(server.tlsPort)", "grants-py", "rural-east-midlands/funding", dir.path + "/data/tls/self-signed.crt", "1"]
        let first = try ChildProcess.run(run)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("< HELLO partnerline/1"))
        #expect(first.output.contains("< @l OK LOGIN account=grants-py role=bot"))
        #expect(first.output.contains("< @j OK JOIN room=rural-east-midlands/funding"))
        #expect(first.output.contains("< @f OK FUNDING id=F"))
        let event = first.output.split(separator: "\n").first { $0.contains("EV rural-east-midlands/funding ") && $0.contains(" grants-py FUNDING ") }
        #expect(event?.contains("ref=python-example:fwcf-2026-rtp") == true, "\(first.output)")
        #expect(event?.contains("funder=\"Fenland and Wolds Community Foundation (sample)\"") == true)
        // Run again: the server knows the ref and stores nothing.
        let second = try ChildProcess.run(run)
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("duplicate=yes"))
        let refs = try fundingRefs()
        #expect(refs["rural-east-midlands/funding"] == ["python-example:fwcf-2026-rtp"], "\(refs)")
    }

    @Test("Without --once it polls on the feed's interval, and a server restart is survived by reconnecting")
    func daemonReconnects() throws {
        let feedFile = dir.path + "/live.csv"
        try "Reference,Funder,Grant,Region\nLIVE-1,Live Fund (sample),Minibus Grants,Rutland\n".write(toFile: feedFile, atomically: true, encoding: .utf8)
        let config = dir.path + "/daemon.yaml"
        try """
            server: 127.0.0.1:\(server.tlsPort)
            account: funding-alerts-bot
            auth: { certificate_file: \(botCert), key_file: \(botKey) }
            server_check: { ca_file: \(dir.path)/data/tls/self-signed.crt }
            state_dir: \(dir.path)/daemon-state
            feeds:
              - { name: live, url: \(feedFile), format: csv, interval_minutes: 0.01,
                  fields: { id: Reference, funder: Funder, title: Grant, area: Region } }
            routes:
              - { cluster: rural-east-midlands, areas: [Rutland] }
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let output = dir.path + "/daemon.out"
        let pid = try ChildProcess.spawn([Binaries.path("partnerline-fundingbot"), "--config", config], outputFile: output)
        var reaped = false
        defer {
            if !reaped {
                kill(pid, SIGKILL)
                ChildProcess.wait(pid)
            }
        }
        #expect(try eventually { try fundingRefs()["rural-east-midlands/funding"] == ["live:LIVE-1"] })

        // The server goes away; a new opportunity arrives meanwhile; the server comes back on its port.
        let port = server.tlsPort
        server.stop()
        try "Reference,Funder,Grant,Region\nLIVE-1,Live Fund (sample),Minibus Grants,Rutland\nLIVE-2,Live Fund (sample),Village Car Schemes,Rutland\n"
            .write(toFile: feedFile, atomically: true, encoding: .utf8)
        #expect(eventually(seconds: 30) { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("unreachable") })
        server = try ServerUnderTest(config: serverConfig, logDir: dir.path, tlsPort: port)
        admin = try LineClient(port: port)
        #expect(try admin.final("LOGIN ops-team a-long-admin-password").hasPrefix("OK LOGIN"))
        for room in Self.rooms { #expect(try admin.final("JOIN \(room)").hasPrefix("OK JOIN")) }
        #expect(try eventually { try fundingRefs()["rural-east-midlands/funding"] == ["live:LIVE-1", "live:LIVE-2"] })
        // Polled again and again, but each alert posted once.
        Thread.sleep(forTimeInterval: 2)
        #expect(try fundingRefs()["rural-east-midlands/funding"] == ["live:LIVE-1", "live:LIVE-2"])
        // SIGTERM: it stops between alerts and exits 0, saying what it did.
        kill(pid, SIGTERM)
        #expect(ChildProcess.wait(pid) == 0)
        reaped = true
        let log = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(log.contains("logged in as funding-alerts-bot"))
        #expect(log.contains("stopping: 2 posted"))
    }

    @Test("The twenty-line Swift bot of the client library's DocC (WritingABot.md) does what it says, twice posting once")
    func swiftBotFromDocs() async throws {
        let setup = try LineClient(port: server.tlsPort)
        #expect(try setup.final("REGISTER grants-swift a-long-swift-password") == "OK REGISTER account=grants-swift")
        #expect(try admin.final("GRANT grants-swift bot") == "OK GRANT account=grants-swift role=bot")
        var answers: [String] = []
        for _ in 0..<2 {
            // The article's lines, with this test's port, CA file and account.
            let server = ConnectionOptions(host: "127.0.0.1", port: self.server.tlsPort,
                                           security: .tls(.certificateAuthority(file: dir.path + "/data/tls/self-signed.crt")))
            let connection = try await PartnerlineConnection.connect(server)
            try await connection.send(.login("grants-swift", password: "a-long-swift-password")).checked()
            try await connection.send(.join("rural-east-midlands/funding")).checked()
            let alert = try await connection.send(.funding(
                "rural-east-midlands/funding", funder: "Fenland and Wolds Community Foundation (sample)",
                title: "Rural Transport Partnerships Fund", ref: "fwcf-rss:fwcf-2026-rtp",
                amount: "£5,000-£50,000", deadline: "2030-03-31", tags: ["transport", "rural"])).checked()
            answers.append("alert \(alert["id"] ?? "?") " + (alert["duplicate"] == "yes" ? "was already posted" : "posted"))
            // The first post comes back as a live event (a duplicate stores, and so sends, nothing).
            if answers.count == 1 {
                for await message in connection.messages {
                    if case .event(let event) = message {
                        #expect(event.kind == "FUNDING")
                        #expect(event.actor == "grants-swift")
                        break
                    }
                }
            }
            await connection.quit()
        }
        #expect(answers == ["alert F1 posted", "alert F1 was already posted"])
        let refs = try fundingRefs()
        #expect(refs["rural-east-midlands/funding"] == ["fwcf-rss:fwcf-2026-rtp"], "\(refs)")
    }

    @Test("The server is checked by CA file, pinned sha256, known_hosts (trust on first use) or not at all; a wrong one is refused (exit 3)")
    func serverChecks() throws {
        let serverCert = dir.path + "/data/tls/self-signed.crt"
        let fingerprint = try #require(TLSFingerprint.sha256Hex(pemFile: serverCert))
        let wrong = String(repeating: "ab", count: 32)
        let knownHosts = dir.path + "/known_hosts"
        func run(_ check: String, _ name: String) throws -> ChildProcess.Result {
            let config = dir.path + "/check-\(name).yaml"
            try """
                server: 127.0.0.1:\(server.tlsPort)
                account: funding-alerts-bot
                auth: { certificate_file: \(botCert), key_file: \(botKey) }
                server_check: \(check)
                state_dir: \(dir.path)/check-state-\(name)
                feeds: [{ name: csv, url: \(Samples.path("grants.csv")), format: csv, fields: { id: Reference, title: Grant, funder: Funder, area: Region } }]
                routes: [{ cluster: rural-east-midlands, areas: [Rutland] }]
                """.write(toFile: config, atomically: true, encoding: .utf8)
            return try bot(["--once"], config: config)
        }
        #expect(try run("{ ca_file: \(serverCert) }", "ca").status == 0)
        #expect(try run("{ sha256: \"\(fingerprint.uppercased())\" }", "pinned").status == 0)
        #expect(try run("{ insecure: true }", "insecure").status == 0)
        #expect(try run("{ known_hosts: \(knownHosts) }", "tofu").status == 0)
        let remembered = try String(contentsOfFile: knownHosts, encoding: .utf8)
        #expect(remembered.lowercased().replacingOccurrences(of: ":", with: "").contains(fingerprint.lowercased()))
        #expect(try run("{ known_hosts: \(knownHosts) }", "tofu-again").status == 0)
        // A CA that did not sign the server's certificate: the handshake fails (exit 2, unreachable).
        let wrongCA = try run("{ ca_file: \(botCert) }", "ca-wrong")
        #expect(wrongCA.status == 2, "\(wrongCA.output)")
        // The wrong certificate: refused, and --once says so with exit 3; nothing is posted.
        let pinnedWrong = try run("{ sha256: \(wrong) }", "pinned-wrong")
        #expect(pinnedWrong.status == 3, "\(pinnedWrong.output)")
        try remembered.replacingOccurrences(of: fingerprint.lowercased(), with: wrong)
            .replacingOccurrences(of: Fingerprint.display(fingerprint), with: Fingerprint.display(wrong))
            .write(toFile: knownHosts, atomically: true, encoding: .utf8)
        let changed = try run("{ known_hosts: \(knownHosts) }", "tofu-changed")
        #expect(changed.status == 3, "\(changed.output)")
        // One alert in all: the first run posted it, the others found it in their state or on the server.
        #expect(try fundingRefs()["rural-east-midlands/funding"] == ["csv:SAMPLE-CSV-002"])
    }

    @Test("--once exits non-zero when the server cannot be reached, and keeps nothing as posted")
    func unreachable() throws {
        let state = dir.path + "/state-unreachable"
        let config = try botConfig(stateDir: state, port: freePort())
        let run = try bot(["--once"], config: config)
        #expect(run.status == 2, "\(run.output)")
        #expect(run.output.contains("unreachable"))
        #expect((try? String(contentsOfFile: state + "/posted.log", encoding: .utf8)) ?? "" == "")
        #expect(try fundingRefs().values.allSatisfy { $0.isEmpty })
    }
}
