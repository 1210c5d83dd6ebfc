import Foundation
@testable import PartnerlineServer
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
        #expect(try client.final("HEAD inner-city-north").hasPrefix("ERR FORBIDDEN HEAD :HEAD inner-city-north is for its members"))
        try client.send("JOIN inner-city-north/general")
        #expect(try client.final("HEAD inner-city-north").hasPrefix("OK HEAD cluster=inner-city-north records=1 hash="))
        #expect(try client.final("PING still here") == "OK PING :still here")
    }
}
