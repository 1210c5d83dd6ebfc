import Foundation
@testable import PartnerlineServer
import Testing

/// A full disk, made for real: the data dir is a small tmpfs filled to the brim.
@Suite struct StorageFaultTests {
    /// Mounts a tmpfs of `size` at a new directory; nil where mounting is not allowed (not root).
    static func mountTmpfs(size: String) -> String? {
        let dir = NSTemporaryDirectory() + "partnerline-tmpfs-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", dir]) == 0 ? dir : nil
    }

    static func unmount(_ dir: String) {
        _ = run("/bin/umount", [dir])
        try? FileManager.default.removeItem(atPath: dir)
    }

    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test func aFullDiskGivesStorageKeepsReadsAndResumes() throws {
        guard getuid() == 0, let mount = Self.mountTmpfs(size: "256k") else {
            Issue.record("needs root to mount a tmpfs; CI runs as root")
            return
        }
        defer { Self.unmount(mount) }
        let server = try InProcessServer(TestConfig.make(dataDir: mount + "/data"))
        defer { server.stop() }
        let client = try server.client()
        try client.login("boston-mind")
        let room = "rural-east-midlands/general"
        try client.send("JOIN \(room)")
        #expect(try client.final("SAY \(room) before the disk filled") == "OK SAY room=\(room) seq=1")

        // Fill the disk: dd stops at ENOSPC.
        Self.run("/bin/dd", ["if=/dev/zero", "of=\(mount)/filler", "bs=4096"])
        let text = String(repeating: "x", count: 300)
        var lastOK = 1
        var storageError: String?
        for _ in 0..<200 {
            let reply = try client.send("SAY \(room) \(text)")
            if let code = errorCode(reply.last!) {
                storageError = reply.last
                #expect(code == "STORAGE")
                #expect(reply.count == 1, "no EV for an event that was not stored")
                break
            }
            lastOK += 1
        }
        #expect(storageError?.hasPrefix("ERR STORAGE SAY :") == true)

        // Reads keep working and show exactly what was acknowledged.
        let history = try client.send("HISTORY \(room) limit=500")
        #expect(history.last == "OK HISTORY room=\(room) count=\(lastOK) more=no")
        #expect(try client.final("PING still serving") == "OK PING :still serving")

        // The fault clears: appends resume with the next seq, no gap.
        try FileManager.default.removeItem(atPath: mount + "/filler")
        #expect(try client.final("SAY \(room) space again") == "OK SAY room=\(room) seq=\(lastOK + 1)")
        server.stop()

        let again = try InProcessServer(TestConfig.make(dataDir: mount + "/data"))
        defer { again.stop() }
        let reader = try again.client()
        try reader.login("boston-mind", register: false)
        try reader.send("JOIN \(room)")
        let seqs = try reader.send("HISTORY \(room) limit=500").dropLast().map { Int($0.split(separator: " ")[2])! }
        #expect(seqs == Array(1...(lastOK + 1)))
    }
}
