import Foundation
import Logging

/// The bot: polls feeds, plans alerts, posts them, remembers them. The stages are the types around
/// it (`FeedFetcher`, `FeedAdapter`, `Planner`/`Router`/`AlertComposer`, `FundingServer`,
/// `PostedLedger`); this class only sequences them and decides what a failure means.
public final class FundingBotRunner {
    public enum Mode: Sendable, Equatable {
        /// Fetch (conditionally), post, remember.
        case post
        /// Print what would be posted where; post nothing, change no state.
        case dryRun
        /// Print, per opportunity, the routes it matched and why; post nothing, change no state.
        case explain
    }

    /// `--once` exit codes.
    public enum ExitCode: Int32 {
        case ok = 0
        case serverUnreachable = 2
        case loginRefused = 3
    }

    let config: BotConfig
    let mode: Mode
    let fetcher: FeedFetcher
    let composer: AlertComposer
    let server: FundingServer?
    let out: (String) -> Void
    let log: Logger
    let today: () -> Day
    let sleep: (Double) -> Void
    let random: () -> Double

    private let stateDir: StateDirectory?
    private let ledger: PostedLedger?
    private let validators: ValidatorStore?
    private var connected = false
    private var joined: Set<String> = []
    private var pacer: Pacer
    /// How many times a dropped or unreachable server is tried again before giving up on this poll.
    var reconnectAttempts = 3
    /// Set from a SIGTERM/SIGINT handler: the daemon finishes the alert in hand, closes, returns.
    public let stop = StopFlag()
    /// What this run did, for the closing log line.
    private(set) var tally = Tally()

    struct Tally: Equatable {
        var posted = 0
        var alreadyThere = 0
        var waiting = 0
        var refused = 0
        var feedsFailed = 0

        var summary: String {
            "\(posted) posted, \(alreadyThere) already on the server, \(waiting) waiting, \(refused) refused, \(feedsFailed) feed(s) failed"
        }
    }

    /// `server` is nil for dry runs and explanations; state is opened (and locked) only for posting,
    /// but read for the others so they can say what is already posted.
    public init(config: BotConfig, mode: Mode, server: FundingServer?, out: @escaping (String) -> Void, log: Logger,
                today: @escaping () -> Day = { Day(Date()) }, sleep: @escaping (Double) -> Void = { Thread.sleep(forTimeInterval: $0) },
                random: @escaping () -> Double = { Double.random(in: 0..<1) }) throws {
        self.config = config
        self.mode = mode
        self.server = server
        self.out = out
        self.log = log
        self.today = today
        self.sleep = sleep
        self.random = random
        fetcher = FeedFetcher(limits: config.fetch)
        composer = AlertComposer(posting: config.posting)
        pacer = Pacer(ratePerSecond: config.posting.ratePerSecond, burst: max(1, config.posting.ratePerSecond))
        if mode == .post {
            let dir = try StateDirectory(path: config.stateDir)
            stateDir = dir
            ledger = try PostedLedger(stateDir: dir.path)
            validators = ValidatorStore(stateDir: dir.path)
            if let unreadable = ledger?.unreadable, unreadable > 0 {
                log.warning("\(ledger!.path): \(unreadable) line(s) could not be read (a torn write?); the server's ref= covers them")
            }
        } else {
            stateDir = nil
            ledger = FileManager.default.fileExists(atPath: config.stateDir + "/posted.log")
                ? try? PostedLedger.readOnly(stateDir: config.stateDir) : nil
            validators = nil
        }
    }

    // MARK: - Modes

    /// Every feed once, then exit: `--once`, `--dry-run`, `--explain`.
    public func runOnce() -> ExitCode {
        if mode == .post {
            switch connectWithRetries(attempts: reconnectAttempts) {
            case .ok: break
            case let failure: server?.close(); return failure
            }
        }
        var exit = ExitCode.ok
        for feed in config.feeds {
            switch pollAndPost(feed) {
            case .done, .feedFailed: break
            case .serverLost(let code):
                exit = code
                log.error("stopping this run: \(code == .loginRefused ? "login refused" : "server unreachable"); feeds not yet posted are tried next time")
            }
            if exit != .ok { break }
        }
        server?.close()
        if mode == .post { log.notice("run done: \(tally.summary)") }
        return exit
    }

    /// The daemon: each feed on its own interval with jitter, failing feeds with backoff, the
    /// server reconnected whenever it drops. Returns only if the login is refused (the config must change).
    public func runForever(now: () -> Double = { Date().timeIntervalSince1970 }) -> ExitCode {
        var schedule = FeedSchedule(intervals: Dictionary(uniqueKeysWithValues: config.feeds.map { ($0.name, $0.intervalMinutes * 60) }),
                                    jitter: config.fetch.jitter, maxBackoffSeconds: config.fetch.maxBackoffMinutes * 60, now: now())
        var lastPing = now()
        if mode == .post, connectWithRetries(attempts: 1) == .loginRefused { return .loginRefused }
        while !stop.isSet {
            guard let (name, due) = schedule.next(), let feed = config.feeds.first(where: { $0.name == name }) else { break }
            while now() < due && !stop.isSet {
                sleep(min(due - now(), 1))
                guard !stop.isSet else { break }
                // Show the server we are here (and notice a dead connection) while waiting.
                if connected, now() - lastPing >= 60, let server {
                    lastPing = now()
                    do { try server.ping() } catch {
                        connected = false
                        log.warning("\(error); reconnecting when there is something to post")
                    }
                }
            }
            switch pollAndPost(feed) {
            case .done: schedule.succeeded(name, now: now(), random: random())
            case .feedFailed: schedule.failed(name, now: now(), random: random())
            case .serverLost(.loginRefused): return .loginRefused
            case .serverLost: schedule.failed(name, now: now(), random: random())
            }
        }
        log.notice("stopping: \(tally.summary) since start")
        server?.close()
        return .ok
    }

    // MARK: - One feed

    enum FeedResult: Equatable {
        case done
        case feedFailed
        case serverLost(ExitCode)
    }

    func pollAndPost(_ feed: BotConfig.Feed) -> FeedResult {
        let kept = mode == .post ? validators?.validators(feed: feed.name, url: feed.url) : nil
        let outcome: FetchOutcome
        do {
            outcome = try fetcher.fetch(feed.url, validators: kept)
        } catch {
            log.error("feed \(feed.name): \(error); trying again later")
            tally.feedsFailed += 1
            return .feedFailed
        }
        guard case .fetched(let data, let fresh) = outcome else {
            log.info("feed \(feed.name): not modified")
            return .done
        }
        let reading: FeedReading
        do {
            reading = try FeedAdapter.read(data, feed: feed)
        } catch {
            log.error("feed \(feed.name): \(error); trying again later")
            tally.feedsFailed += 1
            return .feedFailed
        }
        for problem in reading.skipped { log.warning("feed \(feed.name): left out \(problem)") }
        let plans = Planner.plan(reading.opportunities, feed: feed, routes: config.routes, composer: composer, today: today()) { ref, room in
            ledger?.contains(ref: ref, room: room) ?? false
        }
        log.info("feed \(feed.name): \(reading.opportunities.count) opportunities, \(plans.reduce(0) { $0 + $1.pending.count }) alert(s) to post")

        switch mode {
        case .explain:
            for plan in plans { out(Planner.explain(plan, routes: config.routes)) }
            return .done
        case .dryRun:
            for plan in plans {
                for planned in plan.alerts {
                    out(planned.alreadyPosted ? "already posted to \(planned.alert.room): ref \(planned.alert.ref)"
                                              : "would post to \(planned.alert.room): \(planned.alert.line)")
                }
            }
            return .done
        case .post:
            var deferred = 0
            for plan in plans {
                for alert in plan.pending {
                    switch deliver(alert) {
                    case .delivered: break
                    case .refused: tally.refused += 1
                    case .deferred:
                        deferred += 1
                        tally.waiting += 1
                    case .serverLost(let code): return .serverLost(code)
                    }
                }
            }
            // Only when every alert got out (or was refused for good) are the validators kept: a
            // 304 next time must not hide an alert still waiting, e.g. for a JOIN to be approved.
            if deferred == 0 {
                do {
                    try validators?.set(fresh, feed: feed.name)
                } catch {
                    log.error("feed \(feed.name): \(error)")
                }
            } else {
                log.warning("feed \(feed.name): \(deferred) alert(s) could not be posted yet; the feed is read in full next time")
            }
            return .done
        }
    }

    // MARK: - Posting

    enum Delivery: Equatable {
        /// The server has it (posted now, or already had the ref).
        case delivered
        /// The server refused this alert (bad value, not allowed): trying again would not help.
        case refused
        /// Not now (the room could not be joined yet): tried again on the next poll.
        case deferred
        case serverLost(ExitCode)
    }

    /// Sends one alert until the server has it (posted or duplicate), refuses it, or is lost.
    private func deliver(_ alert: FundingAlert) -> Delivery {
        var rateLimited = 0
        var drops = 0
        while true {
            if !connected {
                let result = connectWithRetries(attempts: reconnectAttempts)
                guard result == .ok else { return .serverLost(result) }
            }
            guard let server else { return .serverLost(.serverUnreachable) }
            do {
                if !joined.contains(alert.room) {
                    guard try joinRoom(alert.room) else { return .deferred }
                }
                let wait = pacer.delay(now: Date().timeIntervalSince1970)
                if wait > 0 { sleep(wait) }
                let outcome = PostOutcome(try server.post(alert))
                switch outcome {
                case .posted(let id, let seq), .duplicate(let id, let seq):
                    let duplicate = { if case .duplicate = outcome { return true } else { return false } }()
                    log.info("\(duplicate ? "already on the server" : "posted") \(id) seq=\(seq) in \(alert.room): ref \(alert.ref)")
                    if duplicate { tally.alreadyThere += 1 } else { tally.posted += 1 }
                    do {
                        try ledger?.append(PostedRecord(ref: alert.ref, room: alert.room, id: id, seq: seq, duplicate: duplicate,
                                                        time: ISO8601DateFormatter().string(from: Date())))
                    } catch {
                        // The server has it; a lost record only costs a duplicate answer next time.
                        log.error("\(error)")
                    }
                    return .delivered
                case .refused("RATE_LIMITED", let message) where rateLimited < 6:
                    rateLimited += 1
                    let wait = min(30, pow(2, Double(rateLimited)))
                    log.warning("rate limited (\(message)); waiting \(Int(wait)) s")
                    sleep(wait)
                case .refused("NOT_JOINED", _) where rateLimited < 6:
                    rateLimited += 1
                    joined.remove(alert.room)
                case .refused(let code, let message) where ["RATE_LIMITED", "NOT_JOINED", "STORAGE", "INTERNAL"].contains(code):
                    log.error("FUNDING into \(alert.room) not stored yet: \(code) \(message) (ref \(alert.ref)); trying again next poll")
                    return .deferred
                case .refused(let code, let message):
                    log.error("FUNDING into \(alert.room) refused: \(code) \(message) (ref \(alert.ref)); line: \(alert.line)")
                    return .refused
                }
            } catch let error as ServerError {
                connected = false
                joined.removeAll()
                drops += 1
                log.warning("\(error)")
                if case .refused = error { return .serverLost(.loginRefused) }
                if drops > reconnectAttempts { return .serverLost(.serverUnreachable) }
            } catch {
                connected = false
                joined.removeAll()
                drops += 1
                log.warning("\(error)")
                if drops > reconnectAttempts { return .serverLost(.serverUnreachable) }
            }
        }
    }

    /// JOIN; false (with the reason logged) when the server will not have the bot in the room.
    private func joinRoom(_ room: String) throws -> Bool {
        guard let server else { return false }
        switch try server.join(room) {
        case .ok:
            joined.insert(room)
            return true
        case .err(let code, let message):
            let cluster = room.split(separator: "/").first.map(String.init) ?? room
            let hint = code == "FORBIDDEN"
                ? " (under an approval policy the JOIN is now a request: a facilitator of \(cluster) approves it with APPROVE \(cluster) \(config.account))"
                : ""
            log.error("cannot join \(room): \(code) \(message)\(hint)")
            return false
        }
    }

    /// Connects and logs in, trying `attempts` times with a growing pause; joins every routed room.
    private func connectWithRetries(attempts: Int) -> ExitCode {
        guard let server else { return .serverUnreachable }
        var pause = 1.0
        for attempt in 1...max(1, attempts) {
            do {
                let login = try server.connect()
                connected = true
                joined.removeAll()
                log.info("logged in as \(login.account) (role \(login.role)) at \(config.host):\(config.port)")
                if !["bot", "admin", "facilitator"].contains(login.role) {
                    log.warning("\(login.account) has role \(login.role): FUNDING needs the bot role (an admin runs GRANT \(login.account) bot)")
                }
                for room in Set(config.routes.map(\.room)).sorted() where !joined.contains(room) {
                    _ = try joinRoom(room)
                }
                return .ok
            } catch ServerError.refused(let why) {
                log.error("login refused: \(why)")
                return .loginRefused
            } catch {
                connected = false
                log.warning("\(error) (attempt \(attempt) of \(attempts))")
                if attempt < attempts {
                    sleep(pause)
                    pause = min(pause * 2, 60)
                }
            }
        }
        return .serverUnreachable
    }
}

/// A flag a signal handler sets and the bot's loop reads.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    public init() {}

    public var isSet: Bool { lock.withLock { value } }
    public func set() { lock.withLock { value = true } }
}

extension PostedLedger {
    /// For dry runs: read what was posted without taking the state directory.
    static func readOnly(stateDir: String) throws -> PostedLedger {
        try PostedLedger(stateDir: stateDir, readOnly: true)
    }
}
