import Foundation
@testable import PartnerlineServer
@testable import PartnerlineStore
import PartnerlineTestSupport
import Testing

/// `HEAD <cluster>`: a cluster's journal head hash as a receipt members can keep.
@Suite struct HeadCommandTests {
    @Test func aMemberGetsTheHeadThatVerifyAlsoPrints() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let client = try server.client()
        try client.login("boston-mind")
        let room = "rural-east-midlands/general"
        try client.send("JOIN \(room)")
        let first = try client.final("@r1 HEAD rural-east-midlands")
        // The join is the journal's only record so far.
        #expect(first.hasPrefix("@r1 OK HEAD cluster=rural-east-midlands records=1 hash="), "\(first)")
        try client.send("SAY \(room) a commitment worth a receipt")
        let second = try client.final("HEAD rural-east-midlands")
        #expect(second.hasPrefix("OK HEAD cluster=rural-east-midlands records=2 hash="))
        let hash = try #require(second.split(separator: "=").last.map(String.init))
        #expect(hash.count == 64 && hash != first.split(separator: "=").last.map(String.init))

        // The receipt is the same pair verify reads from the files (verify takes no lock).
        let run = try ServerTool.verify(dir.path)
        #expect(run.status == 0)
        let summary = run.lines.first { $0.hasPrefix("clusters/rural-east-midlands: records=2 ") }
        #expect(summary?.hasSuffix(" head=\(hash)") == true, "\(run.stdout)")
    }

    @Test func headRefusesNonMembersUnknownClustersAndStrangers() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let client = try server.client()
        #expect(try client.final("HEAD rural-east-midlands").hasPrefix("ERR AUTH_REQUIRED HEAD"))
        try client.login("boston-mind")
        #expect(try client.final("HEAD").hasPrefix("ERR BAD_SYNTAX HEAD"))
        #expect(try client.final("HEAD no-such-cluster").hasPrefix("ERR NO_SUCH_CLUSTER HEAD"))
        #expect(try client.final("HEAD inner-city-north").hasPrefix("ERR FORBIDDEN HEAD :HEAD is for members of inner-city-north"))
        try client.send("JOIN inner-city-north/general")
        #expect(try client.final("HEAD inner-city-north").hasPrefix("OK HEAD cluster=inner-city-north records=1 hash="))
        #expect(try client.final("PING still here") == "OK PING :still here")
    }

    @Test func anAdminMayReadAnyClustersHeadWithoutJoining() throws {
        let dir = TempDir()
        let config = TestConfig.make(dataDir: dir.path)
        _ = try AdminTool.makeAdmin(config: config, account: "root-admin", password: "admin-password-1", organisation: "Ops")
        let server = try InProcessServer(config)
        let admin = try server.client()
        #expect(try admin.final("LOGIN root-admin admin-password-1").hasPrefix("OK LOGIN account=root-admin role=admin"))
        #expect(try admin.final("HEAD inner-city-north")
            == "OK HEAD cluster=inner-city-north records=0 hash=\(String(repeating: "0", count: 64))")
    }

    /// A whole rewritten chain passes the checksum pass of verify (every hash recomputed), but not
    /// a receipt taken before the rewrite: that is what the receipt is for.
    @Test func aReceiptCatchesARewrittenChainThatOtherwiseVerifies() throws {
        let dir = TempDir()
        let room = "rural-east-midlands/general"
        var receipt = ""
        do {
            let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
            let client = try server.client()
            try client.login("boston-mind")
            try client.send("JOIN \(room)")
            try client.send("SAY \(room) we commit 500 pounds to the minibus bid")
            receipt = try client.final("@keep HEAD rural-east-midlands")
            try client.send("SAY \(room) and a later message")
            server.stop()
        }
        let good = try ServerTool.run(["verify", "--data-dir", dir.path, "--receipt", receipt])
        #expect(good.status == 0, "\(good.stdout)")
        #expect(good.lines.contains { $0.hasPrefix("receipt clusters/rural-east-midlands records=2: matches hash=") })

        // Rewrite the commitment and recompute every hash after it, as a forger with file access would.
        let segment = try #require(try SegmentFiles(dir.path + "/clusters/rural-east-midlands").paths.first)
        let text = try String(contentsOfFile: segment, encoding: .utf8)
        var rewritten: [UInt8] = []
        var head = Digest.zero
        let hasher = ChainHasher()
        for line in text.split(separator: "\n") {
            let payload = line.split(separator: " ", maxSplits: 2)[2].replacingOccurrences(of: "500 pounds", with: "5 pounds")
            head = RecordCodec.encode(Array(payload.utf8), previous: head, hasher: hasher, into: &rewritten)
        }
        try Data(rewritten).write(to: URL(fileURLWithPath: segment))

        // The checkpoint the clean stop wrote still names the old head: verify catches the rewrite there.
        let withCheckpoint = try ServerTool.verify(dir.path)
        #expect(withCheckpoint.status == 1)
        #expect(withCheckpoint.lines.contains { $0.hasPrefix("FAULT clusters/rural-east-midlands: checkpoint") }, "\(withCheckpoint.stdout)")
        // A forger removes the checkpoints too.
        let journalDir = dir.path + "/clusters/rural-east-midlands"
        for name in try FileManager.default.contentsOfDirectory(atPath: journalDir) where name.hasSuffix(".checkpoint") {
            try FileManager.default.removeItem(atPath: journalDir + "/" + name)
        }
        let forged = try ServerTool.verify(dir.path)
        #expect(forged.status == 0, "the chain alone is consistent again: \(forged.stdout)")
        let caught = try ServerTool.run(["verify", "--data-dir", dir.path, "--receipt", receipt])
        #expect(caught.status == 1)
        #expect(caught.lines.contains { $0.hasPrefix("FAULT receipt clusters/rural-east-midlands records=2: the chain has hash=") },
                "\(caught.stdout)")

        let bad = try ServerTool.run(["verify", "--data-dir", dir.path, "--receipt", "OK HEAD cluster=x records=two"])
        #expect(bad.status != 0 && bad.stderr.contains("--receipt takes a HEAD reply"))
    }
}
