import Foundation
@testable import FundingBot
import PartnerlineTestSupport
import Testing

@Suite("State, config, schedule and pacing")
struct StateConfigScheduleTests {
    @Test("The posted log is appended, read back after a restart, and survives a torn last line")
    func ledger() throws {
        let dir = TempDir(prefix: "fundingbot-test-")
        do {
            let ledger = try PostedLedger(stateDir: dir.path)
            try ledger.append(PostedRecord(ref: "f:1", room: "c1/funding", id: "F1", seq: 1, duplicate: false, time: "t"))
            try ledger.append(PostedRecord(ref: "f:2", room: "c1/funding", id: "F2", seq: 2, duplicate: true, time: "t"))
            #expect(ledger.contains(ref: "f:1", room: "c1/funding"))
            #expect(!ledger.contains(ref: "f:1", room: "c2/funding"))
        }
        // A crash mid-write leaves half a line.
        let handle = FileHandle(forWritingAtPath: dir.path + "/posted.log")!
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"ref":"f:3","ro"#.utf8))
        try handle.close()
        let reopened = try PostedLedger(stateDir: dir.path)
        #expect(reopened.count == 2)
        #expect(reopened.unreadable == 1)
        #expect(reopened.contains(ref: "f:2", room: "c1/funding"))
        try reopened.append(PostedRecord(ref: "f:4", room: "c1/funding", id: "F4", seq: 4, duplicate: false, time: "t"))
        #expect(try PostedLedger(stateDir: dir.path).contains(ref: "f:4", room: "c1/funding"))
        // Only ever appended: the earlier lines are byte for byte still there.
        let text = try String(contentsOfFile: dir.path + "/posted.log", encoding: .utf8)
        #expect(text.hasPrefix(#"{"duplicate":false,"id":"F1","ref":"f:1","room":"c1\/funding""#) || text.hasPrefix(#"{"duplicate":false,"id":"F1","ref":"f:1","room":"c1/funding""#))
        #expect(text.components(separatedBy: "\n").count == 5)  // 3 records, the torn line, the final newline
        // Read-only (dry runs) never writes.
        let readOnly = try PostedLedger(stateDir: dir.path, readOnly: true)
        #expect(throws: StateError.self) { try readOnly.append(PostedRecord(ref: "x", room: "r", id: nil, seq: nil, duplicate: false, time: "t")) }
    }

    @Test("Validators are kept per feed and URL, and replaced whole")
    func validators() throws {
        let dir = TempDir(prefix: "fundingbot-test-")
        let store = ValidatorStore(stateDir: dir.path)
        try store.set(.init(url: "http://a/x", etag: "\"v1\"", lastModified: nil), feed: "a")
        try store.set(.init(url: "http://b/y", etag: nil, lastModified: "Mon, 07 Dec 2026 01:00:00 GMT"), feed: "b")
        let again = ValidatorStore(stateDir: dir.path)
        #expect(again.validators(feed: "a", url: "http://a/x")?.etag == "\"v1\"")
        #expect(again.validators(feed: "a", url: "http://a/moved") == nil)  // a new URL starts unconditional
        #expect(again.validators(feed: "b", url: "http://b/y")?.lastModified == "Mon, 07 Dec 2026 01:00:00 GMT")
        try again.set(nil, feed: "a")
        #expect(ValidatorStore(stateDir: dir.path).validators(feed: "a", url: "http://a/x") == nil)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/validators.json.tmp"))
    }

    @Test("Two bots cannot share a state directory")
    func lock() throws {
        let dir = TempDir(prefix: "fundingbot-test-")
        let first = try StateDirectory(path: dir.path + "/state")
        #expect(throws: StateError.self) { try StateDirectory(path: dir.path + "/state") }
        _ = first
    }

    @Test("The shipped config reads; mistakes are named by key")
    func config() throws {
        let config = Samples.config
        #expect(config.host == "127.0.0.1" && config.port == 7443)
        #expect(config.feeds.map(\.format) == [.rss, .atom, .commongrants, .json, .csv])
        #expect(config.routes[1].room == "inner-city-north/funding")  // the default room
        #expect(config.serverCheck == .caFile("data/tls/self-signed.crt"))

        let base = """
            server: localhost:7443
            account: grants-bot
            server_check: { insecure: true }
            feeds: [{ name: a, url: "https://example.org/a.rss", format: rss }]
            routes: [{ cluster: rural }]
            """
        #expect(try BotConfig.parse(yaml: base).feeds[0].intervalMinutes == 60)
        func problem(_ yaml: String) -> String {
            do {
                _ = try BotConfig.parse(yaml: yaml)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        #expect(problem(base.replacingOccurrences(of: "localhost:7443", with: "localhost")).contains("HOST:PORT"))
        #expect(problem(base.replacingOccurrences(of: "grants-bot", with: "Grants Bot")).contains("account"))
        #expect(problem(base.replacingOccurrences(of: "{ insecure: true }", with: "{}")).contains("server_check"))
        #expect(problem(base.replacingOccurrences(of: "{ insecure: true }", with: "{ insecure: true, ca_file: x }")).contains("only one"))
        #expect(problem(base.replacingOccurrences(of: "format: rss", with: "format: xml")).contains("format"))
        #expect(problem(base.replacingOccurrences(of: "format: rss", with: "format: csv")).contains("title"))
        #expect(problem(base.replacingOccurrences(of: "name: a,", with: "name: \"a b\",")).contains("name"))
        #expect(problem(base.replacingOccurrences(of: "https://", with: "ftp://")).contains("url"))
        #expect(problem(base.replacingOccurrences(of: "{ cluster: rural }", with: "{ cluster: rural, room: other/funding }")).contains("room"))
        #expect(problem(base.replacingOccurrences(of: "format: rss", with: "format: json, fields: { title: t, colour: c }")).contains("colour"))
        #expect(problem(base.replacingOccurrences(of: "routes: [{ cluster: rural }]", with: "")).contains("route"))
        #expect(problem(base + "\nauth: { certificate_file: a.crt }").contains("key_file"))
        #expect(problem("server: [").contains("config"))
        // A misspelled key is an error naming it and the key meant, in every section.
        #expect(problem(base + "\nstat_dir: /tmp/x").contains("unknown key stat_dir; did you mean state_dir?"))
        #expect(problem(base.replacingOccurrences(of: "{ insecure: true }", with: "{ insecure: true, ca_fle: x }"))
            .contains("unknown key server_check.ca_fle; did you mean ca_file?"))
        #expect(problem(base.replacingOccurrences(of: "format: rss", with: "format: rss, intervall_minutes: 5"))
            .contains("unknown key feeds[0].intervall_minutes; did you mean interval_minutes?"))
        #expect(problem(base.replacingOccurrences(of: "{ cluster: rural }", with: "{ cluster: rural, keyword: [x] }"))
            .contains("unknown key routes[0].keyword; did you mean keywords?"))
    }

    @Test("Credentials: a certificate, PARTNERLINE_PASSWORD, or a password file nobody else can read")
    func credentials() throws {
        let dir = TempDir(prefix: "fundingbot-test-")
        let file = dir.path + "/password"
        try "s3cret-password\nignored\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        let auth = BotConfig.Auth(passwordFile: file)
        let open = #expect(throws: ConfigError.self) { try Credentials.resolve(auth, environment: [:]) }
        #expect(open?.description.contains("chmod 600") == true)
        chmod(file, 0o600)
        #expect(try Credentials.resolve(auth, environment: [:]) == .password("s3cret-password"))
        #expect(try Credentials.resolve(auth, environment: ["PARTNERLINE_PASSWORD": "from-env-pw"]) == .password("from-env-pw"))
        #expect(throws: ConfigError.self) { try Credentials.resolve(BotConfig.Auth(), environment: [:]) }
        #expect(throws: ConfigError.self) {
            try Credentials.resolve(BotConfig.Auth(certificateFile: dir.path + "/none.crt", keyFile: dir.path + "/none.key"), environment: [:])
        }
    }

    @Test("Each feed on its own interval with jitter; a failing feed backs off, doubling, capped; success resets")
    func schedule() {
        var schedule = FeedSchedule(intervals: ["a": 3600, "b": 600], jitter: 0.1, maxBackoffSeconds: 7200, now: 0)
        #expect(schedule.next()?.due == 0)
        schedule.succeeded("a", now: 0, random: 0.5)
        #expect(schedule.slots["a"]?.due == 3600 * 1.05)
        schedule.succeeded("b", now: 0, random: 0)
        #expect(schedule.next()?.feed == "b")
        schedule.failed("a", now: 100, random: 0)
        #expect(schedule.slots["a"] == FeedSchedule.Slot(due: 550, failures: 1))  // an eighth of the hour
        schedule.failed("a", now: 1000, random: 0)
        #expect(schedule.slots["a"] == FeedSchedule.Slot(due: 1900, failures: 2))
        #expect(FeedSchedule.backoff(interval: 600, failures: 1, cap: 7200) == 75)
        #expect(FeedSchedule.backoff(interval: 120, failures: 1, cap: 7200) == 60)  // at least a minute
        #expect(FeedSchedule.backoff(interval: 2, failures: 1, cap: 7200) == 2)  // ...unless polled more often
        #expect(FeedSchedule.backoff(interval: 2, failures: 3, cap: 7200) == 8)
        #expect(FeedSchedule.backoff(interval: 3600, failures: 20, cap: 7200) == 7200)
        schedule.succeeded("a", now: 2000, random: 0)
        #expect(schedule.slots["a"]?.failures == 0)
    }

    @Test("The pacer lets a burst through, then spaces sends at the rate")
    func pacer() {
        var pacer = Pacer(ratePerSecond: 2, burst: 2)
        #expect(pacer.delay(now: 0) == 0)
        #expect(pacer.delay(now: 0) == 0)
        #expect(pacer.delay(now: 0) == 0.5)
        #expect(pacer.delay(now: 0.5) == 0.5)
        #expect(pacer.delay(now: 10) == 0)
    }
}
