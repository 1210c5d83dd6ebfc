import Foundation
import Histogram
import PartnerlineTransport
#if canImport(Glibc)
import Glibc
#endif

/// Settings every scenario shares. Every run is bounded: durations and sizes are capped, and
/// every wait has a deadline.
public struct BenchSettings: Sendable {
    public var proto: BenchProtocol = .partnerline
    /// A server already running on loopback (host, port, pid for RSS/CPU); nil: the bench starts
    /// `serverBinary` itself on a temp data dir, fresh for every row.
    public var target: (host: String, port: Int, pid: Int32?)?
    public var serverBinary: String = ServerUnderTest.defaultBinary()
    public var fsync: String = "batch"
    /// `journal.batch_window_micros` of the server the bench starts (fsync `batch` only).
    public var batchWindowMicros: Int = 0
    public var seconds: Double = 5
    public var warmupSeconds: Double = 1
    public var messageBytes: Int = 100
    public var setupTimeoutSeconds: Double = 120
    /// Partnerline room names are `<roomPrefix><n>`; IRC channels are `#r<n>`.
    public var roomPrefix: String = "bench/r"
    public var workDir: String = NSTemporaryDirectory()
    /// Load-generator I/O queues, per process (nil: one per core in one process; cores / P per
    /// worker, at least one, with `processes` P > 1).
    public var queues: Int?
    /// Load-generator processes for the fan-out, rooms and durable scenarios: 1 runs the clients
    /// in this process; P > 1 spreads them over P workers (`LoadWorkerPool`).
    public var processes: Int = 1
    /// The `partnerline-bench` executable the workers run.
    public var workerBinary: String = LoadWorkerPool.defaultBinary()
    /// Count the server's system calls and context switches over the window (`PerfStat`).
    public var perfStat = false

    public static let maxSeconds = 120.0
    public static let maxConnections = 20_000
    public static let maxEvents = 5_000_000
    /// The restart scenario goes further: its target is stated at 10,000,000 events.
    public static let maxRestartEvents = 10_000_000
    public static let maxProcesses = 16

    public init() {}

    func validated() throws -> BenchSettings {
        var copy = self
        copy.seconds = min(max(0.2, seconds), Self.maxSeconds)
        copy.warmupSeconds = min(max(0, warmupSeconds), 30)
        copy.messageBytes = min(max(24, messageBytes), 3000)
        copy.processes = min(max(1, processes), Self.maxProcesses)
        if let target, !ServerUnderTest.isLoopback(target.host) {
            throw BenchError("only loopback targets are allowed (got \(target.host))")
        }
        return copy
    }
}

/// The six scenarios. Each returns one row per size; the caller prints them as a table or JSON.
public enum Scenarios {
    // MARK: (a) fan-out

    /// N clients in one room; K of them post as fast as a window of W outstanding posts allows.
    public static func fanout(clients: Int, senders: Int, window: Int, settings: BenchSettings, tag: String = "a") throws -> BenchRow {
        let settings = try settings.validated()
        let n = min(max(1, clients), BenchSettings.maxConnections)
        let k = min(max(1, senders), n)
        let w = min(max(1, window), 1000)
        var row = BenchRow(scenario: "fanout")
        row.parameter("protocol", settings.proto.rawValue)
        row.parameter("N", n)
        row.parameter("K", k)
        row.parameter("W", w)
        let members = (0..<n).map { i in
            LoadFleet.Member(name: "\(tag)\(i)", room: settings.roomPrefix + "1", role: i < k ? .windowed(window: w) : .idle)
        }
        try measureRun(members: members, rooms: 1, settings: settings, into: &row)
        return row
    }

    // MARK: (b) many rooms

    /// C clients spread evenly over R rooms, each posting `rate` messages/s.
    public static func rooms(clients: Int, rooms: Int, rate: Double, settings: BenchSettings, tag: String = "b") throws -> BenchRow {
        let settings = try settings.validated()
        let c = min(max(1, clients), BenchSettings.maxConnections)
        let r = min(max(1, rooms), c)
        let perSecond = min(max(0.1, rate), 1000)
        var row = BenchRow(scenario: "rooms")
        row.parameter("protocol", settings.proto.rawValue)
        row.parameter("C", c)
        row.parameter("R", r)
        row.parameter("rate/s", perSecond)
        let interval = UInt64(1e9 / perSecond)
        let members = (0..<c).map { i in
            LoadFleet.Member(name: "\(tag)\(i)", room: settings.roomPrefix + "\(i % r + 1)", role: .paced(intervalNanos: interval))
        }
        try measureRun(members: members, rooms: r, settings: settings, into: &row)
        return row
    }

    // MARK: (c) scale

    /// C idle TLS connections: connect time, server RSS per connection, idle server CPU.
    /// Partnerline connections are greeted (HELLO) and do nothing else; IRC connections register
    /// (NICK/USER, up to 001), since an IRC server drops unregistered ones.
    public static func scale(connections: Int, settings: BenchSettings, tag: String = "c") throws -> BenchRow {
        let settings = try settings.validated()
        let c = min(max(1, connections), BenchSettings.maxConnections)
        var row = BenchRow(scenario: "scale")
        row.parameter("protocol", settings.proto.rawValue)
        row.parameter("C", c)
        _ = TransportSetup.raiseOpenFileLimit()
        let server = try acquireServer(rooms: 1, settings: settings, label: "scale-\(c)")
        defer { server.stop() }
        let fleet = try LoadFleet(queueCount: settings.queues ?? ProcessInfo.processInfo.activeProcessorCount)
        defer { fleet.close() }
        usleep(300_000)
        let rssBefore = server.probe?.residentKiB() ?? 0
        let members = (0..<c).map { LoadFleet.Member(name: "\(tag)\($0)", room: settings.roomPrefix + "1", role: .idle) }
        let seconds = try fleet.connect(members, host: server.host, port: server.port, proto: settings.proto, joins: false,
                                        messageBytes: settings.messageBytes, timeoutSeconds: settings.setupTimeoutSeconds)
        sleep(2)
        let rssAfter = server.probe?.residentKiB() ?? 0
        let cpu0 = server.probe?.cpuSeconds() ?? 0
        let idleSeconds = min(3.0, settings.seconds)
        usleep(UInt32(idleSeconds * 1e6))
        let cpu1 = server.probe?.cpuSeconds() ?? 0
        let totals = fleet.board.totals()
        row.metric("connect_s", seconds, decimals: 2)
        row.metric("conn/s", Double(c) / seconds, decimals: 0)
        row.metric("connect_p50_ms", ms(totals.connect.valueAtPercentile(50)), decimals: 2)
        row.metric("connect_p99_ms", ms(totals.connect.valueAtPercentile(99)), decimals: 2)
        if server.probe != nil {
            row.metric("rss_before_MiB", Double(rssBefore) / 1024)
            row.metric("rss_after_MiB", Double(rssAfter) / 1024)
            row.metric("KiB/conn", Double(rssAfter - rssBefore) / Double(c), decimals: 1)
            row.metric("idle_cpu_%", (cpu1 - cpu0) / idleSeconds * 100)
        }
        row.metric("errors", Int(totals.errors))
        if let error = totals.firstError { row.notes.append("first error: \(error)") }
        return row
    }

    // MARK: (d) durable posting

    /// P clients, each in its own room, each keeping W posts outstanding; an OK means the post is
    /// in the journal under the fsync policy. Partnerline only (IRC servers keep no history).
    public static func durable(clients: Int, window: Int, fsync: String, settings: BenchSettings, tag: String = "d") throws -> BenchRow {
        var settings = try settings.validated()
        guard settings.proto == .partnerline else { throw BenchError("durable posting is a Partnerline scenario") }
        settings.fsync = fsync
        let p = min(max(1, clients), 1000)
        let w = min(max(1, window), 1000)
        var row = BenchRow(scenario: "durable")
        row.parameter("fsync", fsync)
        row.parameter("window_us", fsync == "batch" ? String(settings.batchWindowMicros) : "-")
        row.parameter("P", p)
        row.parameter("W", w)
        let members = (0..<p).map { i in
            LoadFleet.Member(name: "\(tag)\(i)", room: settings.roomPrefix + "\(i + 1)", role: .windowed(window: w))
        }
        try measureRun(members: members, rooms: p, settings: settings, into: &row, durable: true)
        return row
    }

    // MARK: (e) restart

    /// How the timed start of the restart scenario finds its data dir.
    public enum RestartStart: String, Sendable, CaseIterable {
        /// The journal only, as built: the server replays all of it.
        case cold
        /// After a clean shutdown: the server is started once and stopped with SIGTERM (waiting
        /// for it to exit by itself) before the timed start, so whatever a clean shutdown leaves
        /// (a snapshot, with checkpoints) is there to load.
        case warm
    }

    /// Time from spawning the server to its `listening` line over a data dir of E events
    /// (journal replay, or snapshot + tail), and its memory afterwards. Always starts the server
    /// itself. With `dataDir` the built history is kept in `<dataDir>/events-<E>-<bytes>b` and
    /// reused by later runs (built once, said so in a note); every timed start runs on a
    /// hard-linked copy of it (instant, no space), removed afterwards, so what one server writes
    /// there (a snapshot, a new segment) never reaches the next run.
    public static func restart(events: Int, start: RestartStart = .cold, dataDir: String? = nil,
                               settings: BenchSettings) throws -> BenchRow {
        let settings = try settings.validated()
        let e = min(max(1, events), BenchSettings.maxRestartEvents)
        var row = BenchRow(scenario: "restart")
        row.parameter("E", e)
        row.parameter("start", start.rawValue)
        let history: BuiltHistory
        if let dataDir {
            history = try BuiltHistory.prepare(in: dataDir, events: e, messageBytes: settings.messageBytes)
        } else {
            history = try BuiltHistory.temporary(in: settings.workDir, events: e, messageBytes: settings.messageBytes)
        }
        defer { history.removeIfTemporary() }
        row.notes.append(history.note)
        settleWrites()
        let runDir = try history.linkedCopy()
        defer { try? FileManager.default.removeItem(atPath: runDir) }
        if start == .warm {
            let first = try ServerUnderTest.launch(binary: settings.serverBinary, dataDir: runDir, rooms: 1,
                                                   fsync: settings.fsync, timeoutSeconds: settings.setupTimeoutSeconds)
            if !first.stopCleanly(timeoutSeconds: settings.setupTimeoutSeconds) {
                row.notes.append("warm: the first server did not exit within \(Int(settings.setupTimeoutSeconds)) s of SIGTERM and was killed: no clean shutdown")
            }
            settleWrites()
        }
        let server = try ServerUnderTest.launch(binary: settings.serverBinary, dataDir: runDir, rooms: 1,
                                                fsync: settings.fsync, timeoutSeconds: settings.setupTimeoutSeconds)
        defer { server.stop() }
        let startSeconds = server.startSeconds ?? 0
        row.metric("start_s", startSeconds, decimals: 3)
        // CPU time is what the start costs; wall time also shows whatever else the cores were doing.
        row.metric("start_cpu_s", server.probe?.cpuSeconds() ?? 0, decimals: 3)
        row.metric("events/s", Double(e) / max(startSeconds, 1e-6), decimals: 0)
        row.metric("rss_MiB", Double(server.probe?.residentKiB() ?? 0) / 1024)
        row.metric("peak_rss_MiB", Double(server.probe?.peakResidentKiB() ?? 0) / 1024)
        row.metric("journal_MiB", Double(directoryBytes(runDir + "/clusters/bench")) / 1_048_576)
        // What a warm start loaded besides the journal's tail (0: no checkpoint, a full replay).
        row.metric("checkpoint_KiB", Double(fileBytes(runDir + "/clusters/bench", suffix: ".checkpoint")) / 1024)
        if let buildSeconds = history.buildSeconds {
            row.metric("build_s", buildSeconds, decimals: 2)
        } else {
            row.label("build_s", "reused")
        }
        return row
    }

    /// Bytes of the files in `directory` whose names end in `suffix`.
    static func fileBytes(_ directory: String, suffix: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(suffix) }.reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? Int) ?? 0)
        }
    }

    /// Writes the built journal (hundreds of MiB for a million events) to disk before the server
    /// starts: otherwise the kernel's writeback of it competes with the replay or the reads being
    /// measured (seen: a million-event replay 2.6-4.2 s, HISTORY p99 1.1-6.7 ms, run to run).
    static func settleWrites() {
        sync()
    }

    // MARK: (f) HISTORY reads

    /// One client reads `HISTORY r1 before=<random> limit=L` back to back in a room of E events.
    public static func history(events: Int, limit: Int, settings: BenchSettings, tag: String = "f") throws -> BenchRow {
        let settings = try settings.validated()
        let e = min(max(2, events), BenchSettings.maxEvents)
        var row = BenchRow(scenario: "history")
        row.parameter("E", e)
        row.parameter("limit", limit)
        let dataDir = settings.workDir + "/partnerline-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try HistoryBuilder.build(dataDir: dataDir, events: e, messageBytes: settings.messageBytes)
        settleWrites()
        let server = try ServerUnderTest.launch(binary: settings.serverBinary, dataDir: dataDir, rooms: 1,
                                                fsync: settings.fsync, timeoutSeconds: settings.setupTimeoutSeconds)
        defer { server.stop() }
        let fleet = try LoadFleet(queueCount: 1)
        defer { fleet.close() }
        let members = [LoadFleet.Member(name: "\(tag)0", room: settings.roomPrefix + "1",
                                        role: .historyReader(lastSeq: UInt64(e), limit: limit))]
        try fleet.connect(members, host: server.host, port: server.port, proto: .partnerline, joins: true,
                          messageBytes: settings.messageBytes, timeoutSeconds: settings.setupTimeoutSeconds)
        fleet.startSending()
        usleep(UInt32(settings.warmupSeconds * 1e6))
        fleet.board.reset()
        let t0 = nowNanos()
        usleep(UInt32(settings.seconds * 1e6))
        let totals = fleet.board.totals()
        let elapsed = Double(nowNanos() - t0) / 1e9
        fleet.stopSending()
        row.metric("req/s", Double(totals.acks) / elapsed, decimals: 0)
        row.metric("p50_ms", ms(totals.ack.valueAtPercentile(50)), decimals: 3)
        row.metric("p99_ms", ms(totals.ack.valueAtPercentile(99)), decimals: 3)
        row.metric("p99.9_ms", ms(totals.ack.valueAtPercentile(99.9)), decimals: 3)
        row.metric("errors", Int(totals.errors))
        if let error = totals.firstError { row.notes.append("first error: \(error)") }
        return row
    }

    // MARK: shared

    /// Connects `members`, lets them post through a warm-up, then measures a window of
    /// `settings.seconds`: deliveries and acknowledgements per second, latencies, server CPU and RSS,
    /// the load side's CPU (summed over its processes), and with `perfStat` the server's system
    /// calls and context switches over the same window.
    static func measureRun(members: [LoadFleet.Member], rooms: Int, settings: BenchSettings, into row: inout BenchRow,
                           durable: Bool = false) throws {
        _ = TransportSetup.raiseOpenFileLimit()
        let server = try acquireServer(rooms: rooms, settings: settings, label: row.scenario)
        defer { server.stop() }
        let load = try makeLoadSide(settings)
        defer { load.close() }
        if load.processCount > 1 { row.parameter("procs", load.processCount) }
        try load.connect(members, server: server, proto: settings.proto, joins: true, messageBytes: settings.messageBytes,
                         timeoutSeconds: settings.setupTimeoutSeconds)
        var perf = attachPerf(settings: settings, server: server, row: &row)
        defer { perf?.cancel() }
        try load.startSending()
        usleep(UInt32(settings.warmupSeconds * 1e6))
        do {
            try perf?.enable()
        } catch {
            row.notes.append("perf-stat: skipped, \(error)")
            perf?.cancel()
            perf = nil
        }
        try load.beginWindow()
        let serverCPU0 = server.probe?.cpuSeconds() ?? 0
        let t0 = nowNanos()
        usleep(UInt32(settings.seconds * 1e6))
        let totals = try load.endWindow()
        let elapsed = Double(nowNanos() - t0) / 1e9
        let serverCPU1 = server.probe?.cpuSeconds() ?? 0
        var perfCounts: PerfStat.Counts?
        do {
            try perf?.disable()
            perfCounts = try perf?.finish()
        } catch {
            row.notes.append("perf-stat: no counts, \(error)")
        }
        let rss = server.probe?.residentKiB() ?? 0
        load.stopSending()
        usleep(200_000)

        if !durable {
            row.metric("deliveries/s", Double(totals.deliveries) / elapsed, decimals: 0)
            row.metric("p50_ms", ms(totals.delivery.valueAtPercentile(50)), decimals: 2)
            row.metric("p99_ms", ms(totals.delivery.valueAtPercentile(99)), decimals: 2)
            row.metric("p99.9_ms", ms(totals.delivery.valueAtPercentile(99.9)), decimals: 2)
        }
        row.metric("posts/s", Double(totals.acks) / elapsed, decimals: 0)
        if durable || totals.acks > 0 {
            row.metric("ack_p50_ms", ms(totals.ack.valueAtPercentile(50)), decimals: 2)
            row.metric("ack_p99_ms", ms(totals.ack.valueAtPercentile(99)), decimals: 2)
        }
        if durable { row.metric("ack_p99.9_ms", ms(totals.ack.valueAtPercentile(99.9)), decimals: 2) }
        if server.probe != nil {
            row.metric("server_cpu_%", (serverCPU1 - serverCPU0) / elapsed * 100)
            // Server CPU per line delivered (or per post, for durable runs): steadier than rates on
            // cores shared with other work.
            let units = durable ? totals.acks : totals.deliveries
            if units > 0 { row.metric("server_us/msg", (serverCPU1 - serverCPU0) * 1e6 / Double(units), decimals: 2) }
            row.metric("server_rss_MiB", Double(rss) / 1024)
        }
        // The whole load side: every worker process plus the coordinating one.
        let benchCPU = totals.cpuSeconds / elapsed * 100
        let serverCPU = server.probe.map { _ in (serverCPU1 - serverCPU0) / elapsed * 100 }
        row.metric("bench_cpu_%", benchCPU)
        // Both CPUs on every load row, and which process was the busier (see `Ruler`).
        row.label("bound", Ruler.bound(serverCPU: serverCPU, benchCPU: benchCPU).rawValue)
        if let note = Ruler.note(serverCPU: serverCPU, benchCPU: benchCPU) { row.notes.append(note) }
        if let perfCounts {
            // Per acknowledged post; an IRC paced post has no acknowledgement, so there per post sent.
            let posts = totals.acks > 0 ? totals.acks : totals.posted
            PerfStat.report(perfCounts, posts: posts, lines: totals.deliveries, durableRow: durable, into: &row)
        }
        row.metric("errors", Int(totals.errors))
        if let error = totals.firstError { row.notes.append("first error: \(error)") }
    }

    /// This process's clients, or P worker processes' (`settings.processes`).
    static func makeLoadSide(_ settings: BenchSettings) throws -> LoadSide {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard settings.processes > 1 else { return try LoadFleet(queueCount: settings.queues ?? cores) }
        return try LoadWorkerPool(count: settings.processes, binary: settings.workerBinary,
                                  queuesPerWorker: settings.queues ?? max(1, cores / settings.processes))
    }

    /// perf attached to the server (disabled until the window), or nil with a note saying why not.
    static func attachPerf(settings: BenchSettings, server: ServerUnderTest, row: inout BenchRow) -> PerfStat? {
        guard settings.perfStat else { return nil }
        guard let pid = server.probe?.pid else {
            row.notes.append("perf-stat: skipped, the server's pid is unknown (give --server-pid with --target)")
            return nil
        }
        guard let perf = PerfStat.locate() else {
            row.notes.append("perf-stat: skipped, perf is not installed (apt-get install linux-perf)")
            return nil
        }
        do {
            return try PerfStat(pid: pid, perf: perf)
        } catch {
            row.notes.append("perf-stat: skipped, \(error)")
            return nil
        }
    }

    static func acquireServer(rooms: Int, settings: BenchSettings, label: String) throws -> ServerUnderTest {
        if let target = settings.target {
            return try ServerUnderTest.running(host: target.host, port: target.port, pid: target.pid)
        }
        guard settings.proto == .partnerline else {
            throw BenchError("--protocol irc needs --target host:port (start the IRC server by hand)")
        }
        let dataDir = settings.workDir + "/partnerline-bench-\(label)-\(UUID().uuidString)"
        return try ServerUnderTest.launch(binary: settings.serverBinary, dataDir: dataDir, rooms: rooms,
                                          fsync: settings.fsync, batchWindowMicros: settings.batchWindowMicros,
                                          timeoutSeconds: settings.setupTimeoutSeconds, removeDataDirOnStop: true)
    }

    static func ms(_ micros: UInt64) -> Double { Double(micros) / 1000 }

    static func directoryBytes(_ path: String) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return 0 }
        return names.reduce(0) { sum, name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name)
            return sum + ((attributes?[.size] as? NSNumber)?.intValue ?? 0)
        }
    }
}
