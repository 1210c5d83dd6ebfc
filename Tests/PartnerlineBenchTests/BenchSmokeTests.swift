import Foundation
import PartnerlineBench
import Testing

/// A small run of every scenario against the real server binary: each completes and reports.
/// No timing is asserted; the figures come from `swift run -c release partnerline-bench`.
@Suite(.serialized) struct BenchSmokeTests {
    private var settings: BenchSettings {
        var settings = BenchSettings()
        settings.seconds = 0.5
        settings.warmupSeconds = 0.2
        settings.setupTimeoutSeconds = 60
        return settings
    }

    private func expectClean(_ row: BenchRow) {
        #expect(row.metricValue("errors") ?? 0 == 0, "\(row.notes)")
    }

    @Test func fanoutDeliversToEveryMember() throws {
        let row = try Scenarios.fanout(clients: 6, senders: 2, window: 2, settings: settings)
        expectClean(row)
        #expect((row.metricValue("deliveries/s") ?? 0) > 0)
        #expect((row.metricValue("posts/s") ?? 0) > 0)
        #expect(row.metricValue("server_cpu_%") != nil)
        #expect(row.metricValue("bench_cpu_%") != nil)
        // Every load row says which process was the busier, and a bench-bound row says so in a note.
        let bound = try #require(row.metricText("bound"))
        #expect(bound == "server" || bound == "BENCH", "\(bound)")
        #expect((bound == "BENCH") == row.notes.contains { $0.hasPrefix("bench-bound:") }, "\(row.notes)")
    }

    @Test func manyRoomsDeliver() throws {
        let row = try Scenarios.rooms(clients: 8, rooms: 3, rate: 20, settings: settings)
        expectClean(row)
        #expect((row.metricValue("deliveries/s") ?? 0) > 0)
    }

    @Test func idleConnectionsAreCounted() throws {
        let row = try Scenarios.scale(connections: 20, settings: settings)
        expectClean(row)
        #expect(row.metricValue("KiB/conn") != nil)
        #expect((row.metricValue("conn/s") ?? 0) > 0)
    }

    @Test func durablePostingIsAcknowledged() throws {
        for policy in ["always", "batch"] {
            let row = try Scenarios.durable(clients: 4, window: 2, fsync: policy, settings: settings)
            expectClean(row)
            #expect((row.metricValue("posts/s") ?? 0) > 0)
        }
    }

    @Test func restartReplaysTheJournal() throws {
        let row = try Scenarios.restart(events: 500, settings: settings)
        #expect((row.metricValue("start_s") ?? 0) > 0)
        #expect((row.metricValue("rss_MiB") ?? 0) > 0)
    }

    /// `--data-dir`: the first run builds the history and says so, the next reuses it (cold and
    /// warm), and no server's files are left in the kept directory.
    @Test func restartReusesAKeptDataDir() throws {
        let parent = NSTemporaryDirectory() + "/bench-datadir-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let first = try Scenarios.restart(events: 300, dataDir: parent, settings: settings)
        #expect((first.metricValue("build_s") ?? 0) > 0)
        #expect(first.notes.contains { $0.contains("built in") }, "\(first.notes)")
        let built = parent + "/events-300-100b"
        let filesAfterBuild = try FileManager.default.subpathsOfDirectory(atPath: built).sorted()
        for start in Scenarios.RestartStart.allCases {
            let again = try Scenarios.restart(events: 300, start: start, dataDir: parent, settings: settings)
            #expect(again.metricText("build_s") == "reused")
            #expect(again.notes.contains { $0.contains("reused") }, "\(again.notes)")
            #expect(again.parameters.contains { $0.name == "start" && $0.value == start.rawValue })
            #expect((again.metricValue("start_s") ?? 0) > 0)
            // Warm: the first server's clean stop wrote a checkpoint, and the timed start had it.
            #expect(((again.metricValue("checkpoint_KiB") ?? 0) > 0) == (start == .warm), "\(start)")
        }
        // The servers ran on linked copies: the kept directory holds what the builder wrote, and
        // only the built history sits beside it.
        #expect(try FileManager.default.subpathsOfDirectory(atPath: built).sorted() == filesAfterBuild)
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent) == ["events-300-100b"])
    }

    /// An unfinished build (no marker) is not trusted: it is removed and built again.
    @Test func anUnfinishedBuildIsBuiltAgain() throws {
        let parent = NSTemporaryDirectory() + "/bench-datadir-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: parent) }
        try FileManager.default.createDirectory(atPath: parent + "/events-200-100b/clusters/bench", withIntermediateDirectories: true)
        let history = try BuiltHistory.prepare(in: parent, events: 200, messageBytes: 100)
        #expect(history.buildSeconds != nil)
        #expect(history.note.contains("unfinished build was removed"), "\(history.note)")
        #expect(try BuiltHistory.prepare(in: parent, events: 200, messageBytes: 100).buildSeconds == nil)
    }

    /// The load spread over two worker processes: both sides' figures merge into one row.
    @Test func aMultiProcessRunMergesItsWorkers() throws {
        var settings = self.settings
        settings.processes = 2
        settings.workerBinary = try #require(Self.benchBinary, "partnerline-bench not built beside the tests")
        let row = try Scenarios.fanout(clients: 6, senders: 2, window: 2, settings: settings)
        expectClean(row)
        #expect(row.parameters.contains { $0.name == "procs" && $0.value == "2" })
        #expect((row.metricValue("deliveries/s") ?? 0) > 0)
        #expect((row.metricValue("posts/s") ?? 0) > 0)
        #expect((row.metricValue("p99_ms") ?? 0) > 0)
        #expect((row.metricValue("bench_cpu_%") ?? 0) > 0)
        let paced = try Scenarios.rooms(clients: 6, rooms: 2, rate: 20, settings: settings)
        expectClean(paced)
        #expect((paced.metricValue("deliveries/s") ?? 0) > 0)
    }

    /// A worker that is not a worker (exits at once) fails the row with a message naming it.
    @Test func aWorkerThatDiesFailsTheRow() throws {
        var settings = self.settings
        settings.processes = 2
        settings.workerBinary = "/bin/true"
        do {
            _ = try Scenarios.fanout(clients: 4, senders: 1, window: 1, settings: settings)
            Issue.record("a run without working workers reported a row")
        } catch let error as BenchError {
            // Both workers die at once; whichever the bench notices first is the one named.
            #expect(error.description.contains("load worker 1 of 2") || error.description.contains("load worker 2 of 2"),
                    "\(error)")
            #expect(error.description.contains("exited") || error.description.contains("could not be sent"), "\(error)")
        }
    }

    @Test func historyReadsAreAnswered() throws {
        let row = try Scenarios.history(events: 300, limit: 20, settings: settings)
        expectClean(row)
        #expect((row.metricValue("req/s") ?? 0) > 0)
    }

    @Test func tablesAndJSONCarryEveryRow() throws {
        var report = BenchReport(command: "test")
        var row = BenchRow(scenario: "x")
        row.parameter("N", 5)
        row.metric("deliveries/s", 12.5)
        report.rows = [row, row]
        #expect(report.table().split(separator: "\n").count == 4)
        #expect(report.json().contains("\"deliveries/s\""))
    }

    /// The `partnerline-bench` executable beside the test bundle (as `swift build` lays them out).
    static var benchBinary: String? {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("partnerline-bench").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// The executable end to end, as the docs run it: it starts the server itself and writes JSON
    /// whose `command` is the command line that made it.
    @Test func theExecutableRunsAScenarioAndWritesJSON() throws {
        let binary = try #require(Self.benchBinary, "partnerline-bench not built beside the tests")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["scale", "-c", "5,10", "--seconds", "0.3", "--warmup", "0.1", "--json", "-"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["command"] as? String == "partnerline-bench scale -c 5,10 --seconds 0.3 --warmup 0.1 --json -")
        let rows = try #require(json["rows"] as? [[String: Any]])
        #expect(rows.count == 2)
        #expect(rows.allSatisfy { $0["scenario"] as? String == "scale" })
    }

    @Test func refusesNonLoopbackTargets() {
        var settings = self.settings
        settings.target = ("192.0.2.1", 6697, nil)
        #expect(throws: BenchError.self) { try Scenarios.scale(connections: 1, settings: settings) }
    }
}
