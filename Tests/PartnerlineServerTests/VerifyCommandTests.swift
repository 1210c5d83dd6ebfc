import Foundation
import PartnerlineTestSupport
import Testing

/// `partnerline-server verify` run as the real binary on real data directories.
@Suite struct VerifyCommandTests {
    /// A data dir written by a real server: an account, a join and `events` SAYs in one cluster.
    static func makeDataDir(_ dir: TempDir, events: Int = 5) throws -> String {
        let dataDir = dir.path + "/data"
        let server = try ServerProcess(config: TestConfig.yamlFile(in: dir.path, dataDir: dataDir), logDir: dir.path)
        let client = try TestClient(port: server.tlsPort, tls: true)
        try client.login("boston-mind")
        try client.send("JOIN rural-east-midlands/general")
        for n in 1...events { try client.send("SAY rural-east-midlands/general note \(n)") }
        #expect(server.stop() == 0)
        return dataDir
    }

    @Test func aGoodDataDirPassesWithASummaryPerJournal() throws {
        let dir = TempDir()
        let dataDir = try Self.makeDataDir(dir)
        let run = try ServerTool.verify(dataDir)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        // Every journal of the data dir, whatever clusters the config has: accounts first.
        let journals = try FileManager.default.contentsOfDirectory(atPath: dataDir + "/clusters").count + 1
        let lines = run.lines
        // And a line for each journal's checkpoint (written at the clean stop), checked against a full replay.
        #expect(lines.filter { $0.contains(": checkpoint ") && $0.hasSuffix("matches a full replay") }.count == 2, "\(lines)")
        #expect(lines.count == journals + 1 + 2)
        #expect(lines[0].hasPrefix("accounts: records=1 first=20"))
        // One membership record, then five events.
        let cluster = try #require(lines.first { $0.hasPrefix("clusters/rural-east-midlands: ") })
        #expect(cluster.hasPrefix("clusters/rural-east-midlands: records=6 first=20"))
        for line in [lines[0], cluster] {
            let head = try #require(line.split(separator: " ").last)
            #expect(head.hasPrefix("head=") && head.count == 5 + 64 && !head.hasSuffix(String(repeating: "0", count: 64)))
        }
        #expect(lines.last == "verify: \(journals) journals, 7 records, ok")
    }

    @Test func aFlippedByteIsNamedByFileAndOffsetAndFails() throws {
        let dir = TempDir()
        let dataDir = try Self.makeDataDir(dir)
        let segment = try #require(try SegmentFiles(dataDir + "/clusters/rural-east-midlands").paths.first)
        let offsets = try SegmentFiles.recordOffsets(segment)
        // Flip a byte in the payload of the fourth record (well past its length and hash fields).
        let target = offsets[3]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: segment))
        bytes[target + 100] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: segment))

        let run = try ServerTool.verify(dataDir)
        #expect(run.status == 1)
        let faults = run.lines.filter { $0.hasPrefix("FAULT ") }
        #expect(faults.count == 1)
        #expect(faults.first?.hasPrefix("FAULT \(segment) offset=\(target): hash mismatch") == true, "\(run.stdout)")
        #expect(run.lines.last?.hasPrefix("verify: ") == true && run.lines.last?.hasSuffix(" journals, 6 records, 1 fault") == true)
        // The other journal still verifies and is summarised.
        #expect(run.lines[0].hasPrefix("accounts: records=1 "))
    }

    @Test func aTornTailIsAFaultAtTheStartOfTheCutRecord() throws {
        let dir = TempDir()
        let dataDir = try Self.makeDataDir(dir)
        let segment = try #require(try SegmentFiles(dataDir + "/clusters/rural-east-midlands").paths.first)
        let last = try #require(try SegmentFiles.recordOffsets(segment).last)
        let handle = try #require(FileHandle(forUpdatingAtPath: segment))
        try handle.truncate(atOffset: UInt64(last + 40))
        try handle.close()

        let run = try ServerTool.verify(dataDir)
        #expect(run.status == 1)
        #expect(run.lines.contains { $0.hasPrefix("FAULT \(segment) offset=\(last): incomplete record") }, "\(run.stdout)")
    }

    @Test func aMissingOrEmptyDataDirFails() throws {
        let dir = TempDir()
        let run = try ServerTool.verify(dir.path + "/nothing-here")
        #expect(run.status == 1)
        #expect(run.lines.first?.hasPrefix("FAULT \(dir.path)/nothing-here: no journals") == true)
    }
}
