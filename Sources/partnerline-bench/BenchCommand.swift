import ArgumentParser
import Foundation
import PartnerlineBench

@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partnerline-bench",
        abstract: "Load and measure a Partnerline server (or an IRC server, for comparison) on loopback.",
        discussion: """
            Each scenario takes comma-separated sizes and prints one row per size, as a table, and
            as JSON with --json. Without --target the bench starts the real partnerline-server (found
            beside this executable, or --server-binary) on a fresh temp data dir for every row, and
            reads its RSS and CPU from /proc. With --target it loads a server already running on
            loopback; give --server-pid to get its RSS and CPU too. Every run is bounded: at most
            120 s per row, 20,000 connections, 5,000,000 events (restart: 10,000,000). --processes P
            spreads the load clients of fanout, rooms and durable over P worker processes, so the load
            side is not the bottleneck; --perf-stat counts the server's system calls and context
            switches over the measured window.
            """,
        subcommands: [Fanout.self, Rooms.self, Scale.self, Durable.self, Restart.self, History.self, LoadWorkerCommand.self]
    )
}

struct CommonOptions: ParsableArguments {
    @Option(name: .customLong("protocol"), help: "partnerline or irc (irc: fanout, rooms and scale, with --target).")
    var proto: String = "partnerline"

    @Option(help: "A running server on loopback, host:port (e.g. 127.0.0.1:6697). Default: start partnerline-server.")
    var target: String?

    @Option(name: .customLong("server-pid"), help: "With --target: the server's pid, for RSS and CPU from /proc.")
    var serverPID: Int32?

    @Option(name: .customLong("server-binary"), help: "The partnerline-server executable to start.")
    var serverBinary: String?

    @Option(name: .customLong("server-fsync"), help: "fsync policy of the server the bench starts (fanout, rooms, scale, history).")
    var serverFsync: String = "batch"

    @Option(name: .customLong("server-batch-window-micros"),
            help: "journal.batch_window_micros of the server the bench starts (fsync batch; durable has its own list).")
    var serverBatchWindow: Int = 0

    @Option(help: "Measured seconds per row (max 120).")
    var seconds: Double = 5

    @Option(help: "Seconds of load before measuring.")
    var warmup: Double = 1

    @Option(name: .customLong("message-bytes"), help: "Bytes of text per posted message.")
    var messageBytes: Int = 100

    @Option(name: .customLong("room-prefix"), help: "Partnerline room names are <prefix><n> (the bench's own server has bench/r1...).")
    var roomPrefix: String = "bench/r"

    @Option(name: .customLong("setup-seconds"),
            help: "Deadline for a row's set-up: server start, connecting and logging in the clients (max 900; a server that accepts slowly, like ngIRCd with its compiled-in listen backlog of 10, needs more than the default for thousands of connections).")
    var setupSeconds: Double = 120

    @Option(help: "Load-generator I/O queues per process (default: one per core; with --processes P, cores / P per worker).")
    var queues: Int?

    @Option(help: "Load-generator processes for fanout, rooms and durable (max 16): the clients are spread over P worker processes; bench_cpu_% is their sum.")
    var processes: Int = 1

    @Flag(name: .customLong("perf-stat"),
          help: "Count the server's context switches and system calls over the measured window with perf stat (fanout, rooms, durable; needs perf, and --server-pid with --target).")
    var perfStat = false

    @Option(help: "Also write the report as JSON to this file ('-' for stdout instead of the table).")
    var json: String?

    func settings() throws -> BenchSettings {
        var settings = BenchSettings()
        guard let proto = BenchProtocol(rawValue: proto) else { throw ValidationError("--protocol is partnerline or irc") }
        settings.proto = proto
        if let target {
            guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]) else {
                throw ValidationError("--target is host:port")
            }
            var host = String(target[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            settings.target = (host, port, serverPID)
        }
        if let serverBinary { settings.serverBinary = serverBinary }
        guard ["always", "batch", "os"].contains(serverFsync) else { throw ValidationError("--server-fsync: always, batch or os") }
        settings.fsync = serverFsync
        guard (0...1_000_000).contains(serverBatchWindow) else { throw ValidationError("--server-batch-window-micros: 0...1000000") }
        settings.batchWindowMicros = serverBatchWindow
        settings.seconds = seconds
        settings.warmupSeconds = warmup
        guard (1...900).contains(setupSeconds) else { throw ValidationError("--setup-seconds: 1...900") }
        settings.setupTimeoutSeconds = setupSeconds
        settings.messageBytes = messageBytes
        settings.roomPrefix = roomPrefix
        if let queues { settings.queues = max(1, queues) }
        guard (1...BenchSettings.maxProcesses).contains(processes) else {
            throw ValidationError("--processes: 1...\(BenchSettings.maxProcesses)")
        }
        settings.processes = processes
        // The workers are this very executable, whatever it is called or wherever it was copied.
        if let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            settings.workerBinary = me
        }
        settings.perfStat = perfStat
        return settings
    }

    func emit(_ report: BenchReport) throws {
        if json == "-" {
            print(report.json())
            return
        }
        print(report.table(), terminator: "")
        if let json {
            try report.json().write(toFile: json, atomically: true, encoding: .utf8)
        }
    }
}

/// "50,100,200" -> [50, 100, 200]
func sizes(_ text: String, _ name: String, allowZero: Bool = false) throws -> [Int] {
    let values = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.count == text.split(separator: ",").count,
          values.allSatisfy({ $0 > 0 || (allowZero && $0 == 0) }) else {
        throw ValidationError("--\(name) is a comma-separated list of \(allowZero ? "whole" : "positive") numbers")
    }
    return values
}

/// The arguments as given, scenario first (for the report's `command`).
func commandLine() -> String { CommandLine.arguments.dropFirst().joined(separator: " ") }

/// Row tags keep names of rows and of runs apart (an IRC server may still hold the last run's nicks
/// for a moment): scenario letter, this process's id, row number.
func rowTag(_ base: Character, _ index: Int) -> String { "\(base)\(getpid() % 10_000)x\(index)x" }

struct Fanout: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "(a) N clients in one room, K senders, W posts outstanding each.")
    @OptionGroup var common: CommonOptions
    @Option(name: .customShort("n"), help: "Clients in the room (list).") var clients: String = "200"
    @Option(name: .customShort("k"), help: "Senders among them (list).") var senders: String = "10"
    @Option(name: .customShort("w"), help: "Outstanding posts per sender.") var window: Int = 8

    func run() throws {
        let settings = try common.settings()
        var report = BenchReport(command: "partnerline-bench " + commandLine())
        var index = 0
        for n in try sizes(clients, "n") {
            for k in try sizes(senders, "k") {
                report.rows.append(try Scenarios.fanout(clients: n, senders: k, window: window, settings: settings,
                                                        tag: rowTag("a", index)))
                index += 1
            }
        }
        try common.emit(report)
    }
}

struct Rooms: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "(b) C clients over R rooms, each posting at a fixed rate.")
    @OptionGroup var common: CommonOptions
    @Option(name: .customShort("c"), help: "Clients (list).") var clients: String = "1000"
    @Option(name: .customShort("r"), help: "Rooms (list).") var rooms: String = "50"
    @Option(help: "Messages per second per client.") var rate: Double = 5

    func run() throws {
        let settings = try common.settings()
        var report = BenchReport(command: "partnerline-bench " + commandLine())
        var index = 0
        for c in try sizes(clients, "c") {
            for r in try sizes(rooms, "r") {
                report.rows.append(try Scenarios.rooms(clients: c, rooms: r, rate: rate, settings: settings,
                                                       tag: rowTag("b", index)))
                index += 1
            }
        }
        try common.emit(report)
    }
}

struct Scale: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "(c) C idle TLS connections: connect time, RSS per connection.")
    @OptionGroup var common: CommonOptions
    @Option(name: .customShort("c"), help: "Connections (list).") var connections: String = "10000"

    func run() throws {
        let settings = try common.settings()
        var report = BenchReport(command: "partnerline-bench " + commandLine())
        for (index, c) in try sizes(connections, "c").enumerated() {
            report.rows.append(try Scenarios.scale(connections: c, settings: settings, tag: rowTag("c", index)))
        }
        try common.emit(report)
    }
}

struct Durable: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "(d) P clients posting, acknowledged after the journal append, per fsync policy.")
    @OptionGroup var common: CommonOptions
    @Option(name: .customShort("p"), help: "Posting clients (list).") var clients: String = "64"
    @Option(name: .customShort("w"), help: "Outstanding posts per client.") var window: Int = 4
    @Option(help: "fsync policies (list of always, batch, os).") var fsync: String = "batch,always"
    @Option(name: .customLong("batch-window-micros"),
            help: "journal.batch_window_micros values for the batch policy (list).") var batchWindows: String = "0"

    func run() throws {
        var settings = try common.settings()
        var report = BenchReport(command: "partnerline-bench " + commandLine())
        var index = 0
        for policy in fsync.split(separator: ",").map(String.init) {
            guard ["always", "batch", "os"].contains(policy) else { throw ValidationError("--fsync: always, batch or os") }
            for batchWindow in policy == "batch" ? try sizes(batchWindows, "batch-window-micros", allowZero: true) : [0] {
                settings.batchWindowMicros = batchWindow
                for p in try sizes(clients, "p") {
                    report.rows.append(try Scenarios.durable(clients: p, window: window, fsync: policy, settings: settings,
                                                             tag: rowTag("d", index)))
                    index += 1
                }
            }
        }
        try common.emit(report)
    }
}

struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "(e) Start-up (journal replay) time and memory over a data dir of E events.")
    @OptionGroup var common: CommonOptions
    @Option(name: .customShort("e"), help: "Events in the data dir (list, up to 10000000).") var events: String = "100000,300000,1000000"
    @Option(name: .customLong("data-dir"),
            help: "Keep the built histories under this directory (events-<E>-<bytes>b) and reuse them: built once if absent (10,000,000 events: ~2.6 GB), so several servers can be timed on the same data.")
    var dataDir: String?
    @Option(help: "Timed starts (list): cold (the journal as built) and/or warm (after one start and a clean shutdown).")
    var start: String = "cold"

    func run() throws {
        let settings = try common.settings()
        let starts = try start.split(separator: ",").map { word -> Scenarios.RestartStart in
            guard let mode = Scenarios.RestartStart(rawValue: String(word)) else { throw ValidationError("--start: cold and/or warm") }
            return mode
        }
        let list = try sizes(events, "e")
        guard list.allSatisfy({ $0 <= BenchSettings.maxRestartEvents }) else {
            throw ValidationError("-e: at most \(BenchSettings.maxRestartEvents) events")
        }
        var report = BenchReport(command: "partnerline-bench " + commandLine())
        for e in list {
            for mode in starts {
                report.rows.append(try Scenarios.restart(events: e, start: mode, dataDir: dataDir.map(absolutePath), settings: settings))
            }
        }
        try common.emit(report)
    }
}

func absolutePath(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}

/// The worker side of `--processes`: started by the bench itself, never by hand.
struct LoadWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load-worker", abstract: "Internal: one load process of a --processes run (requests on stdin).",
        shouldDisplay: false)

    func run() throws {
        let status = LoadWorker.serve()
        if status != 0 { throw ExitCode(status) }
    }
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "(f) HISTORY before=<random> reads in a room of E events.")
    @OptionGroup var common: CommonOptions
    @Option(name: .customShort("e"), help: "Events in the room (list).") var events: String = "10000,100000,1000000"
    @Option(help: "HISTORY limit.") var limit: Int = 50

    func run() throws {
        let settings = try common.settings()
        var report = BenchReport(command: "partnerline-bench " + commandLine())
        for (index, e) in try sizes(events, "e").enumerated() {
            report.rows.append(try Scenarios.history(events: e, limit: limit, settings: settings, tag: rowTag("f", index)))
        }
        try common.emit(report)
    }
}
