import Foundation
@testable import PartnerlineServer
@testable import PartnerlineStore
import PartnerlineTestSupport
import Testing

/// Turns a journal file layer's writes into a chosen errno while armed: the data dir "goes read-only"
/// under a running server. (A real `mount -o remount,ro` is refused with EBUSY while the server holds
/// its segment open for writing, so a live read-only fault can only be injected; a read-only mount at
/// start is tested for real below.)
final class FaultSwitch: @unchecked Sendable {
    private let lock = NSLock()
    private var code: Int32 = 0

    func arm(_ errno: Int32) { lock.withLock { code = errno } }
    func clear() { lock.withLock { code = 0 } }
    var current: Int32 { lock.withLock { code } }

    /// The POSIX file layer with writes and truncates failing while armed.
    func install(_ options: inout JournalOptions) {
        let posix = FileIO.posix
        options.fileIO = FileIO(
            write: { fd, bytes, count in
                let code = self.current
                return code != 0 ? -Int(code) : posix.write(fd, bytes, count)
            },
            sync: posix.sync,
            syncDirectory: posix.syncDirectory,
            truncate: { fd, length in
                let code = self.current
                return code != 0 ? code : posix.truncate(fd, length)
            })
    }
}

@Suite struct DataDirFaultTests {
    @Test func aSecondServerOnALockedDataDirIsRefusedAtStart() throws {
        let dir = TempDir()
        let config = TestConfig.yamlFile(in: dir.path, dataDir: dir.path + "/data")
        let first = try ServerProcess(config: config, logDir: dir.path)
        let client = try TestClient(port: first.tlsPort, tls: true)
        try client.login("boston-mind")

        let second = try ServerTool.run(["--config", config, "--tls-port", "0"], timeoutSeconds: 60)
        #expect(second.status != 0)
        #expect(!second.stdout.contains("listening"))
        #expect(second.stderr.contains("data directory \(dir.path)/data is in use by another running partnerline-server"),
                "\(second.stderr)")

        // The first server is untouched and still writes.
        try client.send("JOIN rural-east-midlands/general")
        #expect(try client.final("SAY rural-east-midlands/general still the only writer")
            == "OK SAY room=rural-east-midlands/general seq=1")
        #expect(first.stop() == 0)

        // Once the first is gone the lock is free: the refusal was about the other writer, nothing else.
        let again = try ServerProcess(config: config, logDir: dir.path)
        #expect(again.stop() == 0)
    }

    @Test(arguments: [EROFS, EIO])
    func aFailingDataDirGivesStorageKeepsReadsAndResumes(errno code: Int32) throws {
        let dir = TempDir()
        let faults = FaultSwitch()
        let config = TestConfig.make(dataDir: dir.path)
        let room = "rural-east-midlands/general"
        var server: InProcessServer? = try InProcessServer(config, adjustJournal: { faults.install(&$0) })
        let client = try server!.client()
        try client.login("boston-mind")
        try client.send("JOIN \(room)")
        for n in 1...3 { try client.send("SAY \(room) before the fault \(n)") }
        let receipt = try client.final("HEAD rural-east-midlands")
        let other = try server!.client()
        try other.login("lincoln-womens-aid")

        faults.arm(code)
        let refused = try client.send("SAY \(room) while read-only")
        #expect(refused.count == 1, "no EV for an event that was not stored: \(refused)")
        #expect(refused.last?.hasPrefix("ERR STORAGE SAY :not stored:") == true, "\(refused)")
        #expect(try other.final("REGISTER grantham-foodbank correct-horse-battery").hasPrefix("ERR STORAGE REGISTER"),
                "the accounts journal is on the same disk")
        #expect(try other.final("JOIN \(room)").hasPrefix("ERR STORAGE JOIN"), "a new membership is a write too")
        // Reads go on, and show exactly what was acknowledged.
        #expect(try client.send("HISTORY \(room)").last == "OK HISTORY room=\(room) count=3 more=no")
        #expect(try client.final("HEAD rural-east-midlands") == receipt, "a failed write does not move the head")
        #expect(try client.final("PING reads go on") == "OK PING :reads go on")

        faults.clear()
        #expect(try client.final("SAY \(room) writable again") == "OK SAY room=\(room) seq=4")
        #expect(try other.final("JOIN \(room)") == "OK JOIN room=\(room) last=4")
        server!.stop()
        server = nil

        let run = try ServerTool.verify(dir.path)
        #expect(run.status == 0, "\(run.stdout)")
        let again = try InProcessServer(config)
        let reader = try again.client()
        try reader.login("boston-mind", register: false)
        try reader.send("JOIN \(room)")
        let seqs = try reader.send("HISTORY \(room)").dropLast().map { Int($0.split(separator: " ")[2])! }
        #expect(seqs == [1, 2, 3, 4])
    }

    @Test func aReadOnlyMountIsRefusedAtStartAndServedOnceWritable() throws {
        guard getuid() == 0, let mount = StorageFaultTests.mountTmpfs(size: "4m") else {
            Issue.record("needs root to mount a tmpfs; CI runs as root")
            return
        }
        defer { StorageFaultTests.unmount(mount) }
        let dataDir = mount + "/data"
        let room = "rural-east-midlands/general"
        do {
            let server = try InProcessServer(TestConfig.make(dataDir: dataDir))
            let client = try server.client()
            try client.login("boston-mind")
            try client.send("JOIN \(room)")
            try client.send("SAY \(room) written before the remount")
            server.stop()
        }
        #expect(StorageFaultTests.run("/bin/mount", ["-o", "remount,ro", mount]) == 0)
        #expect(throws: (any Error).self) { _ = try InProcessServer(TestConfig.make(dataDir: dataDir)) }
        do {
            _ = try InProcessServer(TestConfig.make(dataDir: dataDir))
        } catch {
            #expect("\(error)".contains("Read-only file system"), "\(error)")
        }
        // verify needs no write access.
        #expect(try ServerTool.verify(dataDir).status == 0)

        #expect(StorageFaultTests.run("/bin/mount", ["-o", "remount,rw", mount]) == 0)
        let server = try InProcessServer(TestConfig.make(dataDir: dataDir))
        let client = try server.client()
        try client.login("boston-mind", register: false)
        try client.send("JOIN \(room)")
        #expect(try client.final("SAY \(room) writable again") == "OK SAY room=\(room) seq=2")
    }
}
