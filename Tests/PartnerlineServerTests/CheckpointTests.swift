import Foundation
import PartnerlineCore
import PartnerlineProtocol
@testable import PartnerlineServer
import PartnerlineStore
import PartnerlineTestSupport
import Testing

/// Checkpoints in a real server (real TLS, real files in temp dirs): written at a clean shutdown and
/// every N records, start from the newest valid one, and each fallback (damaged newest, all damaged,
/// a journal restored from an older backup, a changed config) ends in the state a full replay gives.
@Suite(.serialized) struct CheckpointTests {
    static let cluster = "rural-east-midlands"
    static let room = "rural-east-midlands/general"

    static func config(_ dataDir: String, every: Int = 100_000, extraRoom: Bool = false) -> ServerConfig {
        var yaml = TestConfig.yaml(dataDir: dataDir, plain: false, oneCluster: true,
                                   journalExtra: "  checkpoint_every_records: \(every)\n  history_window: 8\n  segment_max_bytes: 8192")
        if extraRoom { yaml += "\n      - name: extra\n        topic: Added later" }
        return try! ServerConfig.parse(yaml: yaml)
    }

    /// Posts `count` messages, an item or two and a read marker, as two members.
    /// Two runs of 20 posts each, each ended by a clean stop: two checkpoints, the newer with a tail after the older.
    static func twoCleanRuns(_ dataDir: String) throws {
        for round in 1...2 {
            let server = try InProcessServer(config(dataDir))
            try activity(server, round: round, count: 20, register: round == 1)
            server.stop()
        }
    }

    static func activity(_ server: InProcessServer, round: Int, count: Int, register: Bool) throws {
        let a = try server.client()
        try a.login("boston-mind", register: register)
        let b = try server.client()
        try b.login("lincoln-aid", register: register)
        _ = try a.send("JOIN \(room)")
        _ = try b.send("JOIN \(room)")
        for n in 1...count { _ = try (n % 2 == 0 ? a : b).send("SAY \(room) round \(round) message \(n)") }
        #expect(try a.final("NEED \(room) tags=minibus Minibus round \(round)").hasPrefix("OK NEED"))
        #expect(try b.final("OFFER \(room) tags=minibus Our minibus round \(round)").hasPrefix("OK OFFER"))
        _ = try a.send("MARK \(room) 3")
        a.close()
        b.close()
    }

    /// The cluster's state as sections (equal exactly when the states are equal), with the records
    /// the checkpoint it started from covers (0: replayed whole).
    static func state(_ server: InProcessServer) throws -> (snapshot: StateSnapshot, startedFrom: Int) {
        let shard = try #require(server.service.context?.shards.first)
        return shard.queue.sync {
            var snapshot = StateSnapshot(cluster: shard.state, definition: shard.checkpoints?.definition
                                         ?? ClusterDefinition(name: cluster, description: "", rooms: []))
            shard.index.encode(into: &snapshot)
            return (snapshot, shard.checkpoints?.checkpointedRecords ?? 0)
        }
    }

    /// The state a full replay of the data dir gives (checkpoints off for this start).
    static func fullReplay(_ dataDir: String, extraRoom: Bool = false) throws -> StateSnapshot {
        let server = try InProcessServer(config(dataDir, every: 0, extraRoom: extraRoom))
        defer { server.stop() }
        let shard = try #require(server.service.context?.shards.first)
        return shard.queue.sync {
            var snapshot = StateSnapshot(cluster: shard.state, definition: config(dataDir, extraRoom: extraRoom).clusterDefinitions[0])
            shard.index.encode(into: &snapshot)
            return snapshot
        }
    }

    static func checkpoints(_ dataDir: String) -> [(records: Int, path: String)] {
        CheckpointFiles.list(directory: DataDirectory.clusterPath(dataDir, cluster: cluster))
    }

    static func expectSame(_ a: StateSnapshot, _ b: StateSnapshot, _ context: String) {
        #expect(a.firstDifference(from: b) == nil, "\(context)")
        #expect(a.encoded() == b.encoded(), "\(context)")
    }

    @Test func aCleanShutdownWritesCheckpointsAndStartUsesThem() throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        var server = try InProcessServer(Self.config(dataDir))
        try Self.activity(server, round: 1, count: 30, register: true)
        server.stop()
        let written = Self.checkpoints(dataDir)
        #expect(written.count == 1)
        #expect(CheckpointFiles.list(directory: DataDirectory.accountsPath(dataDir)).count == 1)

        server = try InProcessServer(Self.config(dataDir))
        let started = try Self.state(server)
        #expect(started.startedFrom == written.first?.records)
        // The server works on from it: posts get the next seqs, HISTORY reaches back through the index.
        let client = try server.client()
        try client.login("boston-mind", register: false)
        _ = try client.send("JOIN \(Self.room)")
        let shard = try #require(server.service.context?.shards.first)
        let last = shard.queue.sync { shard.state.rooms["general"]?.lastSeq ?? 0 }
        #expect(last > 30)
        #expect(try client.final("SAY \(Self.room) after the restart") == "OK SAY room=\(Self.room) seq=\(last + 1)")
        let history = try client.send("HISTORY \(Self.room) after=0 limit=3")
        #expect(history.first?.contains("round 1 message 1") == true, "\(history)")
        client.close()
        server.stop()
        Self.expectSame(try Self.fullReplay(dataDir), try { () throws -> StateSnapshot in
            let again = try InProcessServer(Self.config(dataDir))
            defer { again.stop() }
            return try Self.state(again).snapshot
        }(), "checkpoint + tail against a full replay")
    }

    @Test func everyNRecordsACheckpointIsWrittenInTheBackground() throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        let server = try InProcessServer(Self.config(dataDir, every: 20))
        try Self.activity(server, round: 1, count: 60, register: true)
        let deadline = Date().addingTimeInterval(20)
        while Self.checkpoints(dataDir).isEmpty && Date() < deadline { usleep(10_000) }
        let written = Self.checkpoints(dataDir)
        #expect(!written.isEmpty, "no checkpoint while running")
        #expect(written.count <= CheckpointFiles.kept)
        #expect((written.first?.records ?? 0) >= 20)
        server.stop()
    }

    @Test func aDamagedNewestCheckpointFallsBackToTheOlderOne() throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        try Self.twoCleanRuns(dataDir)
        let written = Self.checkpoints(dataDir)
        #expect(written.count == 2)
        // Flip one byte in the middle of the newest.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: written[0].path))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: written[0].path))
        let expected = try Self.fullReplay(dataDir)
        let server = try InProcessServer(Self.config(dataDir))
        let started = try Self.state(server)
        server.stop()
        #expect(started.startedFrom == written[1].records)
        Self.expectSame(started.snapshot, expected, "older checkpoint + longer tail")
    }

    @Test func everyCheckpointDamagedMeansAFullReplay() throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        try Self.twoCleanRuns(dataDir)
        let written = Self.checkpoints(dataDir)
        // One cut short, one missing its checksum's last byte changed.
        let first = try Data(contentsOf: URL(fileURLWithPath: written[0].path))
        try first.prefix(first.count / 3).write(to: URL(fileURLWithPath: written[0].path))
        var second = try Data(contentsOf: URL(fileURLWithPath: written[1].path))
        second[second.count - 1] ^= 0xFF
        try second.write(to: URL(fileURLWithPath: written[1].path))
        let expected = try Self.fullReplay(dataDir)
        let server = try InProcessServer(Self.config(dataDir))
        let started = try Self.state(server)
        #expect(started.startedFrom == 0)
        Self.expectSame(started.snapshot, expected, "full replay")
        server.stop()
        // That clean shutdown wrote a good one again.
        #expect(try CheckpointFiles.load(path: Self.checkpoints(dataDir)[0].path).position.records > 0)
    }

    /// The journal is put back to an older copy while the newer checkpoint stays: the newer one's
    /// head is not in the journal (it is shorter), so start falls back to the older checkpoint, which is.
    @Test func aJournalRestoredFromAnOlderBackupIsNotTrustedToTheNewerCheckpoint() throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        let journalDir = DataDirectory.clusterPath(dataDir, cluster: Self.cluster)
        var server = try InProcessServer(Self.config(dataDir))
        try Self.activity(server, round: 1, count: 20, register: true)
        server.stop()
        let saved = dir.path + "/older-journal"
        try FileManager.default.copyItem(atPath: journalDir, toPath: saved)
        server = try InProcessServer(Self.config(dataDir))
        try Self.activity(server, round: 2, count: 20, register: false)
        server.stop()
        let written = Self.checkpoints(dataDir)
        #expect(written.count == 2)
        // Restore the older segments only (the checkpoints stay as they are).
        for name in try FileManager.default.contentsOfDirectory(atPath: journalDir) where name.hasSuffix(".journal") {
            try FileManager.default.removeItem(atPath: journalDir + "/" + name)
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: saved) where name.hasSuffix(".journal") {
            try FileManager.default.copyItem(atPath: saved + "/" + name, toPath: journalDir + "/" + name)
        }
        let expected = try Self.fullReplay(dataDir)
        let capture = LogCapture()
        server = try InProcessServer(Self.config(dataDir), logCapture: capture)
        let started = try Self.state(server)
        server.stop()
        #expect(started.startedFrom == written[1].records)
        Self.expectSame(started.snapshot, expected, "after restoring an older journal")
        // Said in the log: which checkpoint, and that the journal does not hold its position.
        #expect(capture.messages.contains { $0.contains(written[0].path) && $0.contains("not used")
                    && ($0.contains("shorter") || $0.contains("has no segment") || $0.contains("history differs")) },
                "\(capture.messages)")
    }

    @Test func aCheckpointMadeUnderAnotherConfigIsNotUsed() throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        var server = try InProcessServer(Self.config(dataDir))
        try Self.activity(server, round: 1, count: 10, register: true)
        server.stop()
        let expected = try Self.fullReplay(dataDir, extraRoom: true)
        server = try InProcessServer(Self.config(dataDir, extraRoom: true))
        let started = try Self.state(server)
        server.stop()
        #expect(started.startedFrom == 0)
        Self.expectSame(started.snapshot, expected, "config with a new room")
    }

    /// `verify` checks the newest checkpoint against a full replay: a good one matches; one whose
    /// state differs (written with a valid checksum, so only the replay can tell) is a fault naming
    /// the section; one damaged on disk is a fault too.
    @Test func verifyChecksTheNewestCheckpointAgainstAFullReplay() throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        let server = try InProcessServer(Self.config(dataDir))
        try Self.activity(server, round: 1, count: 20, register: true)
        server.stop()
        var outcome = DataDirectoryVerifier.verify(dataDir: dataDir)
        #expect(outcome.passed, "\(outcome.lines)")
        #expect(outcome.lines.filter { $0.contains("matches a full replay") }.count == 2, "\(outcome.lines)")

        let newest = Self.checkpoints(dataDir)[0]
        let checkpoint = try CheckpointFiles.load(path: newest.path)
        let snapshot = try StateSnapshot(decoding: checkpoint.body)
        var state = try snapshot.clusterState()
        try state.apply(.memberJoined(room: RoomName(cluster: Self.cluster, room: "general"), account: "not-in-the-journal", timeMillis: 1))
        var forged = StateSnapshot(cluster: state, definition: try snapshot.clusterDefinition().definition)
        try HistoryIndex(snapshot: snapshot).encode(into: &forged)
        try CheckpointFiles.write(forged.encoded(), position: checkpoint.position, directory: DataDirectory.clusterPath(dataDir, cluster: Self.cluster))
        outcome = DataDirectoryVerifier.verify(dataDir: dataDir)
        #expect(!outcome.passed)
        #expect(outcome.lines.contains { $0.hasPrefix("FAULT clusters/\(Self.cluster): checkpoint") && $0.contains("not what a full replay") && $0.contains("'cluster'") },
                "\(outcome.lines)")

        var bytes = try Data(contentsOf: URL(fileURLWithPath: newest.path))
        bytes[bytes.count / 2] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: newest.path))
        outcome = DataDirectoryVerifier.verify(dataDir: dataDir)
        #expect(outcome.lines.contains { $0.hasPrefix("FAULT") && $0.contains("checksum") }, "\(outcome.lines)")
    }

    /// A backup carries the checkpoints, and a server started on the copy starts from them.
    @Test func backupIncludesTheCheckpointsAndACopyStartsFromThem() throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        var server = try InProcessServer(Self.config(dataDir))
        try Self.activity(server, round: 1, count: 20, register: true)
        server.stop()
        let copy = dir.path + "/copy"
        let lines = try DataDirectoryBackup.run(dataDir: dataDir, to: copy)
        #expect(lines.contains { $0.hasPrefix("clusters/\(Self.cluster):") && $0.hasSuffix("checkpoints=1") }, "\(lines)")
        #expect(Self.checkpoints(copy).map(\.records) == Self.checkpoints(dataDir).map(\.records))
        let expected = try Self.fullReplay(dataDir)
        server = try InProcessServer(Self.config(copy))
        let started = try Self.state(server)
        server.stop()
        #expect(started.startedFrom == Self.checkpoints(dataDir)[0].records)
        Self.expectSame(started.snapshot, expected, "a copy started from its checkpoint")
        #expect(DataDirectoryVerifier.verify(dataDir: copy).passed)
    }
}
