import Foundation
@testable import FundingBot
import Logging
import PartnerlineTestSupport
import Testing

/// The runner's decisions when the server says no, drops, or makes it wait, with a scripted server
/// behind the `FundingServer` seam (the real connection is exercised by the end-to-end tests) and
/// real feeds over loopback HTTP and a real state directory.
@Suite("The runner: refusals, drops, waits", .timeLimit(.minutes(2)))
final class RunnerTests {
    /// Answers from a script; records what it was asked.
    final class ScriptedServer: FundingServer {
        var connects: [Result<LoginOutcome, ServerError>] = []
        var joins: [String: [ServerAnswer]] = [:]
        var posts: [Result<ServerAnswer, ServerError>] = []
        private(set) var log: [String] = []
        private var nextID = 0

        func connect() throws -> LoginOutcome {
            log.append("connect")
            let next = connects.isEmpty ? .success(LoginOutcome(account: "bot", role: "bot")) : connects.removeFirst()
            return try next.get()
        }

        func join(_ room: String) throws -> ServerAnswer {
            log.append("join \(room)")
            if var queue = joins[room], !queue.isEmpty {
                let answer = queue.removeFirst()
                joins[room] = queue
                return answer
            }
            return .ok(fields: ["room": room])
        }

        func post(_ alert: FundingAlert) throws -> ServerAnswer {
            log.append("post \(alert.room) \(alert.ref)")
            if !posts.isEmpty { return try posts.removeFirst().get() }
            nextID += 1
            return .ok(fields: ["id": "F\(nextID)", "seq": "\(nextID)"])
        }

        func ping() throws {}
        func close() {}
    }

    let dir = TempDir(prefix: "fundingbot-test-")
    let http: FeedHTTPServer
    var slept: [Double] = []

    init() throws {
        http = try FeedHTTPServer()
        http.serve("/chest.csv", .init(file: Samples.path("grants.csv"), contentType: "text/csv", etag: "\"csv-1\""))
    }

    func config() -> BotConfig {
        var feed = Samples.feed("community-chest-csv")
        feed.url = http.url("/chest.csv")
        return BotConfig(host: "127.0.0.1", port: 1, account: "bot", serverCheck: .insecure, stateDir: dir.path + "/state",
                         feeds: [feed], routes: Samples.config.routes)
    }

    func runner(_ server: ScriptedServer) throws -> FundingBotRunner {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try FundingBotRunner(config: config(), mode: .post, server: server, out: { _ in }, log: logger,
                                    today: { Day.of("2026-12-07") }, sleep: { [unowned self] in slept.append($0) }, random: { 0 })
    }

    var validatorsKept: Bool {
        ValidatorStore(stateDir: dir.path + "/state").validators(feed: "community-chest-csv", url: http.url("/chest.csv")) != nil
    }

    @Test("Posts each alert once into its room, joins every routed room on connect, keeps the validators")
    func happyPath() throws {
        let server = ScriptedServer()
        #expect(try runner(server).runOnce() == .ok)
        #expect(server.log == ["connect", "join community-south/funding", "join inner-city-north/funding", "join rural-east-midlands/funding",
                               "post community-south/funding community-chest-csv:SAMPLE-CSV-001",
                               "post rural-east-midlands/funding community-chest-csv:SAMPLE-CSV-002"])
        #expect(validatorsKept)
        #expect(try PostedLedger(stateDir: dir.path + "/state").count == 2)
    }

    @Test("RATE_LIMITED is waited out with a growing pause and the alert sent again")
    func rateLimited() throws {
        let server = ScriptedServer()
        server.posts = [.success(.err(code: "RATE_LIMITED", message: "slow down")), .success(.err(code: "RATE_LIMITED", message: "slow down"))]
        #expect(try runner(server).runOnce() == .ok)
        #expect(server.log.filter { $0.hasPrefix("post") }.count == 4)
        #expect(slept.filter { $0 >= 1 } == [2, 4])
        #expect(try PostedLedger(stateDir: dir.path + "/state").count == 2)
    }

    @Test("A dropped connection is reconnected and the alert sent again; the server's duplicate answer is recorded")
    func dropped() throws {
        let server = ScriptedServer()
        server.posts = [.failure(.dropped("reset")), .success(.ok(fields: ["id": "F7", "seq": "3", "duplicate": "yes"]))]
        #expect(try runner(server).runOnce() == .ok)
        #expect(server.log.filter { $0 == "connect" }.count == 2)
        let text = try String(contentsOfFile: dir.path + "/state/posted.log", encoding: .utf8)
        #expect(text.contains(#""duplicate":true"#) && text.contains(#""id":"F7""#))
    }

    @Test("A JOIN that is refused (approval pending) defers its alerts, and the validators are not kept, so no 304 hides them")
    func joinRefused() throws {
        let server = ScriptedServer()
        server.joins["community-south/funding"] = [.err(code: "FORBIDDEN", message: "asked to join"), .err(code: "FORBIDDEN", message: "asked to join")]
        #expect(try runner(server).runOnce() == .ok)
        #expect(!server.log.contains { $0.hasPrefix("post community-south") })
        #expect(server.log.contains("post rural-east-midlands/funding community-chest-csv:SAMPLE-CSV-002"))
        #expect(!validatorsKept)
        // Approved: the next run reads the feed in full and posts what waited, and only that.
        let again = ScriptedServer()
        #expect(try runner(again).runOnce() == .ok)
        #expect(again.log.filter { $0.hasPrefix("post") } == ["post community-south/funding community-chest-csv:SAMPLE-CSV-001"])
        #expect(validatorsKept)
        #expect(http.requests(to: "/chest.csv").map(\.answered) == [200, 200])
    }

    @Test("A refusal for good (BAD_SYNTAX) is logged and not retried; a refused login or an unreachable server ends --once non-zero")
    func refusals() throws {
        let server = ScriptedServer()
        server.posts = [.success(.err(code: "BAD_SYNTAX", message: "no"))]
        #expect(try runner(server).runOnce() == .ok)
        #expect(server.log.filter { $0.hasPrefix("post") }.count == 2)
        #expect(try PostedLedger(stateDir: dir.path + "/state").count == 1)

        let refused = ScriptedServer()
        refused.connects = [.failure(.refused("AUTH_FAILED"))]
        #expect(try runner(refused).runOnce() == .loginRefused)

        let down = ScriptedServer()
        down.connects = Array(repeating: .failure(.unreachable("connection refused")), count: 3)
        #expect(try runner(down).runOnce() == .serverUnreachable)
        #expect(down.log == ["connect", "connect", "connect"])
        #expect(!down.log.contains { $0.hasPrefix("post") })
    }
}
