import Foundation
import PartnerlineTestSupport
import Testing

/// Checkpoint crash tests with the real binary: SIGKILL while a checkpoint is half-written (the
/// writer is held there by `PARTNERLINE_TEST_CHECKPOINT_PAUSE=1`, so the kill lands mid-write every
/// time), and a checkpoint damaged on disk (flipped bytes, cut short). After each restart every
/// acknowledged event is there with its seq and line, and `verify` passes.
@Suite(.serialized) struct CheckpointCrashTests {
    static let cluster = "rural-east-midlands"
    static let room = "rural-east-midlands/general"

    static func config(_ dir: TempDir, every: Int) -> String {
        TestConfig.yamlFile(in: dir.path, dataDir: dir.path + "/data", fsync: "batch",
                            journalExtra: "  checkpoint_every_records: \(every)\n  history_window: 16")
    }

    static func journalDir(_ dir: TempDir) -> String { dir.path + "/data/clusters/" + cluster }

    static func files(_ dir: TempDir, suffix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: journalDir(dir))) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
    }

    /// Posts `count` messages and returns the EV line of each acknowledged one, by seq.
    static func post(_ client: TestClient, _ count: Int, label: String) throws -> [Int: String] {
        var acknowledged: [Int: String] = [:]
        for n in 1...count {
            let reply = try client.send("SAY \(room) \(label) \(n)")
            guard let ok = reply.last, ok.hasPrefix("OK SAY"), let seq = ok.split(separator: "=").last.flatMap({ Int($0) }) else {
                Issue.record("not stored: \(reply)")
                continue
            }
            acknowledged[seq] = reply.first { $0.hasPrefix("EV \(room) \(seq) ") }
        }
        return acknowledged
    }

    /// Every acknowledged event is in HISTORY with its seq and the same line.
    static func expectAll(_ acknowledged: [Int: String], port: Int, context: String) throws {
        let client = try TestClient(port: port, tls: true)
        try client.login("boston-mind", register: false)
        _ = try client.send("JOIN \(room)")
        let last = acknowledged.keys.max() ?? 0
        let lines = try client.send("HISTORY \(room) after=0 limit=\(last + 10)").filter { $0.hasPrefix("EV ") }
        #expect(lines.count >= last, "\(context): HISTORY has \(lines.count) events, \(last) were acknowledged")
        for (seq, line) in acknowledged {
            #expect(lines.count >= seq && lines[seq - 1] == line, "\(context): seq \(seq)")
        }
        client.close()
    }

    @Test(.timeLimit(.minutes(3))) func kill9WhileACheckpointIsWrittenLosesNothing() throws {
        let dir = TempDir()
        let configPath = Self.config(dir, every: 40)
        var acknowledged: [Int: String] = [:]
        do {
            let server = try ServerProcess(config: configPath, logDir: dir.path,
                                           environment: ["PARTNERLINE_TEST_CHECKPOINT_PAUSE": "1"])
            let client = try TestClient(port: server.tlsPort, tls: true)
            try client.login("boston-mind")
            _ = try client.send("JOIN \(Self.room)")
            acknowledged.merge(try Self.post(client, 60, label: "before")) { $1 }
            let deadline = Date().addingTimeInterval(30)
            while !server.log.contains("pausing half-way") && Date() < deadline { usleep(10_000) }
            #expect(server.log.contains("pausing half-way"), "the checkpoint writer never started: \(server.log)")
            // The writer is stuck off the shard queue: posting goes on meanwhile.
            acknowledged.merge(try Self.post(client, 20, label: "during")) { $1 }
            #expect(Self.files(dir, suffix: ".checkpoint.tmp").count == 1)
            #expect(Self.files(dir, suffix: ".checkpoint").isEmpty)
            server.kill9()
        }
        #expect(acknowledged.count == 80)
        var server = try ServerProcess(config: configPath, logDir: dir.path)
        #expect(server.log.contains("half-written"), "\(server.log)")
        #expect(Self.files(dir, suffix: ".checkpoint.tmp").isEmpty)
        try Self.expectAll(acknowledged, port: server.tlsPort, context: "after kill -9 mid-checkpoint")
        // A clean stop writes a whole checkpoint; the next start uses it and still has everything.
        #expect(server.stop() == 0)
        #expect(Self.files(dir, suffix: ".checkpoint").count >= 1)
        server = try ServerProcess(config: configPath, logDir: dir.path)
        #expect(server.log.contains("journal \(Self.cluster): started from checkpoint"), "\(server.log)")
        try Self.expectAll(acknowledged, port: server.tlsPort, context: "after a restart from the checkpoint")
        #expect(server.stop() == 0)
        let run = try ServerTool.verify(dir.path + "/data")
        #expect(run.status == 0, "verify: \(run.stdout)")
    }

    @Test(.timeLimit(.minutes(3)), arguments: ["flip", "truncate"])
    func aCorruptedCheckpointFallsBackToTheJournal(damage: String) throws {
        let dir = TempDir()
        let configPath = Self.config(dir, every: 100_000)
        var acknowledged: [Int: String] = [:]
        do {
            let server = try ServerProcess(config: configPath, logDir: dir.path)
            let client = try TestClient(port: server.tlsPort, tls: true)
            try client.login("boston-mind")
            _ = try client.send("JOIN \(Self.room)")
            acknowledged = try Self.post(client, 50, label: "kept")
            #expect(server.stop() == 0)
        }
        let checkpoints = Self.files(dir, suffix: ".checkpoint")
        #expect(checkpoints.count == 1)
        let path = Self.journalDir(dir) + "/" + (checkpoints.first ?? "missing")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        if damage == "flip" {
            for offset in stride(from: 80, to: bytes.count - 40, by: max(1, bytes.count / 7)) { bytes[offset] ^= 0x55 }
        } else {
            bytes = bytes.prefix(bytes.count / 2)
        }
        try bytes.write(to: URL(fileURLWithPath: path))
        let server = try ServerProcess(config: configPath, logDir: dir.path)
        #expect(server.log.contains("checkpoint not used"), "\(server.log)")
        #expect(!server.log.contains("journal \(Self.cluster): started from checkpoint"))
        try Self.expectAll(acknowledged, port: server.tlsPort, context: "after damage (\(damage)) to the checkpoint")
        #expect(server.stop() == 0)
        // The clean stop replaced it with a good one.
        let run = try ServerTool.verify(dir.path + "/data")
        #expect(run.status == 0, "verify: \(run.stdout)")
    }
}
