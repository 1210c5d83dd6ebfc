import Foundation
import PartnerlineTestSupport
import Testing

/// `partnerline-server backup` run as the real binary, against a live server under posting load.
@Suite struct BackupCommandTests {
    @Test func aBackupOfALiveServerUnderLoadRestoresToAPrefixThatVerifies() throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        let backupDir = dir.path + "/backup"
        let configPath = CrashTortureTests.config(in: dir.path, dataDir: dataDir, fsync: "batch")
        let ledger = Ledger()
        let server = try ServerProcess(config: configPath, logDir: dir.path)
        try CrashTortureTests.check(port: server.tlsPort, dataDir: dataDir, ledger: ledger, register: true, context: "setup")

        let stop = StopFlag()
        let group = DispatchGroup()
        for (index, poster) in CrashTortureTests.posters.enumerated() {
            let room = CrashTortureTests.rooms[index % CrashTortureTests.rooms.count]
            let port = server.tlsPort
            DispatchQueue.global().async(group: group) {
                CrashTortureTests.post(as: poster, in: room, port: port, round: 0, ledger: ledger, stop: stop)
            }
        }
        // Let the load run (segments roll at 16 KiB), then copy while it goes on.
        let hangGuard = Date().addingTimeInterval(60)
        while ledger.count < 150 && Date() < hangGuard { usleep(1000) }
        let beforeBackup = ledger.snapshot
        let backup = try ServerTool.run(["backup", "--data-dir", dataDir, "--to", backupDir])
        let countAtEnd = ledger.count
        while ledger.count < countAtEnd + 50 && Date() < hangGuard { usleep(1000) }
        stop.raise()
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(ledger.issues.isEmpty, "\(ledger.issues)")
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(backup.lines.last?.hasPrefix("backup: 3 journals, ") == true, "\(backup.stdout)")
        #expect(backup.lines.first?.hasPrefix("clusters/") == true, "clusters are copied before accounts")

        // The original's full history, then the copy's.
        let original = try Self.histories(port: server.tlsPort)
        #expect(server.stop() == 0)
        #expect(try ServerTool.verify(backupDir).status == 0)
        let restored = try ServerProcess(config: configPath, arguments: ["--data-dir", backupDir], logDir: dir.path)
        let copy = try Self.histories(port: restored.tlsPort)
        var copiedEvents = 0
        for room in CrashTortureTests.rooms {
            let copied = copy[room] ?? []
            let full = original[room] ?? []
            copiedEvents += copied.count
            #expect(copied.count <= full.count && Array(full.prefix(copied.count)) == copied, "\(room): a prefix")
            // Everything acknowledged before the backup began is in it.
            for (seq, line) in beforeBackup[room] ?? [:] {
                #expect(seq <= copied.count && copied[seq - 1] == line)
            }
        }
        #expect(copiedEvents >= 150)
        // The restored server is a working server: it takes new events after the copied ones.
        let client = try TestClient(port: restored.tlsPort, tls: true)
        try client.login("boston-mind", register: false)
        let room = CrashTortureTests.rooms[0]
        try client.send("JOIN \(room)")
        let next = (copy[room]?.count ?? 0) + 1
        #expect(try client.final("SAY \(room) after the restore") == "OK SAY room=\(room) seq=\(next)")
        #expect(restored.stop() == 0)
    }

    @Test func backupRefusesANonEmptyDestinationAndAnEmptyDataDir() throws {
        let dir = TempDir()
        let dataDir = try VerifyCommandTests.makeDataDir(dir, events: 2)
        let occupied = dir.path + "/occupied"
        try FileManager.default.createDirectory(atPath: occupied, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: occupied + "/notes.txt"))
        let refused = try ServerTool.run(["backup", "--data-dir", dataDir, "--to", occupied])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(occupied) is not empty"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: occupied) == ["notes.txt"])

        let nothing = try ServerTool.run(["backup", "--data-dir", dir.path + "/none", "--to", dir.path + "/copy"])
        #expect(nothing.status == 1)
        #expect(nothing.stderr.contains("holds no journals"))

        // A stopped server's data dir copies whole.
        let copy = try ServerTool.run(["backup", "--data-dir", dataDir, "--to", dir.path + "/copy"])
        #expect(copy.status == 0)
        #expect(copy.lines.last?.hasSuffix(" journals, 4 records copied to \(dir.path)/copy") == true, "\(copy.stdout)")
        let original = try ServerTool.verify(dataDir).lines
        #expect(try ServerTool.verify(dir.path + "/copy").lines == original)
    }

    /// Every room's full history, paged.
    static func histories(port: Int) throws -> [String: [String]] {
        let client = try TestClient(port: port, tls: true)
        defer { client.close() }
        try client.login("torture-checker", register: false)
        var result: [String: [String]] = [:]
        for room in CrashTortureTests.rooms {
            try client.send("JOIN \(room)")
            var stored: [String] = []
            while true {
                let lines = try client.send("HISTORY \(room) after=\(stored.count) limit=500").dropLast().filter { $0.hasPrefix("EV ") }
                if lines.isEmpty { break }
                stored += lines
            }
            result[room] = stored
        }
        return result
    }
}
