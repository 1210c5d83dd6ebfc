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
        #expect((row.metricValue("replay_s") ?? 0) > 0)
        #expect((row.metricValue("rss_MiB") ?? 0) > 0)
        // The second start is from the checkpoint the first one's clean stop wrote.
        #expect((row.metricValue("restart_s") ?? 0) > 0)
        #expect((row.metricValue("checkpoint_KiB") ?? 0) > 0)
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
