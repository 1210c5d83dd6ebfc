import Foundation
@testable import PartnerlineServer
import PartnerlineTestSupport
import Testing

/// Only a small window of each room's history stays in memory; HISTORY further back reads the
/// journal through the sparse index, live and after a restart, with identical lines.
@Suite struct BoundedHistoryTests {
    static let rooms = ["rural-east-midlands/general", "rural-east-midlands/purchasing"]

    static func config(_ dataDir: String) -> ServerConfig {
        var config = TestConfig.make(dataDir: dataDir)
        config.journal.historyWindow = 5
        config.journal.segmentMaxBytes = 4096
        return config
    }

    /// (query options, first seq, last seq, more=) for a room of 150 events; nil seqs mean no lines.
    static let queries: [(String, ClosedRange<Int>?, String)] = [
        ("limit=500", 1...150, "no"),
        ("before=10 limit=5", 5...9, "yes"),
        ("after=0 limit=3", 1...3, "yes"),
        ("after=70 before=90", 71...89, "no"),
        ("after=64 limit=2", 65...66, "yes"),
        ("before=66 limit=1", 65...65, "yes"),
        ("after=140", 141...150, "no"),
        ("before=151 limit=20", 131...150, "yes"),
        ("limit=2", 149...150, "yes"),
        ("after=150", nil, "no"),
        ("before=1", nil, "no"),
    ]

    static func check(_ client: TestClient, expected: [String: [String]]) throws {
        for room in rooms {
            for (options, seqs, more) in queries {
                let reply = try client.send("HISTORY \(room) \(options)")
                let want = seqs.map { Array(expected[room]![($0.lowerBound - 1)..<$0.upperBound]) } ?? []
                #expect(Array(reply.dropLast()) == want, "HISTORY \(room) \(options)")
                #expect(reply.last == "OK HISTORY room=\(room) count=\(want.count) more=\(more)")
            }
        }
    }

    @Test func historyBeyondTheWindowComesFromTheJournalLiveAndAfterRestart() throws {
        let dir = TempDir()
        var expected: [String: [String]] = [:]
        do {
            let server = try InProcessServer(Self.config(dir.path))
            let writers = try Self.rooms.map { room -> TestClient in
                let client = try server.client()
                try client.login("poster-\(room.split(separator: "/")[1])")
                try client.send("JOIN \(room)")
                return client
            }
            for n in 1...150 {
                for (room, client) in zip(Self.rooms, writers) {
                    let reply = try client.send("SAY \(room) event \(n) in \(room) \(String(repeating: "-", count: n % 50))")
                    #expect(reply.last == "OK SAY room=\(room) seq=\(n)")
                    expected[room, default: []].append(reply[0])
                }
            }
            let shard = try #require(server.service.context?.shard("rural-east-midlands"))
            let inMemory = shard.queue.sync { shard.state.orderedRooms.map(\.linesInMemory) }
            #expect(inMemory.allSatisfy { $0 <= 5 + 1 }, "history_window 5 and its slack of 1: \(inMemory)")
            #expect(shard.queue.sync { shard.index.entryCount } == 2 * 3, "seqs 1, 65 and 129 of each room")
            #expect(try SegmentFiles(dir.path + "/clusters/rural-east-midlands").paths.count > 5)
            try writers[0].send("JOIN \(Self.rooms[1])")
            try Self.check(writers[0], expected: expected)
            server.stop()
        }
        // After a restart the index is rebuilt from the journal while it is replayed.
        let server = try InProcessServer(Self.config(dir.path))
        let reader = try server.client()
        try reader.login("poster-general", register: false)
        for room in Self.rooms { try reader.send("JOIN \(room)") }
        try Self.check(reader, expected: expected)
    }
}
