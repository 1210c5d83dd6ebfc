import Foundation
@testable import PartnerlineServer
import PartnerlineTestSupport
import Testing

/// History survives restarts: what was OKed comes back with the same seq and time.
@Suite struct DurabilityTests {
    @Test func historyIsIdenticalAfterAnOrderlyRestart() throws {
        let dir = TempDir()
        let config = TestConfig.make(dataDir: dir.path)
        let room = "rural-east-midlands/purchasing"
        var before: [String] = []
        do {
            let server = try InProcessServer(config)
            let client = try server.client()
            try client.login("boston-mind")
            try client.send("JOIN \(room)")
            for n in 1...25 { try client.send("SAY \(room) before restart \(n)") }
            before = try client.send("HISTORY \(room) limit=500")
            server.stop()
        }
        let server = try InProcessServer(config)
        let client = try server.client()
        try client.login("boston-mind", register: false)
        #expect(try client.final("JOIN \(room)") == "OK JOIN room=\(room) last=25")
        #expect(try client.send("HISTORY \(room) limit=500") == before)
        let next = try client.send("SAY \(room) after restart")
        #expect(next.last == "OK SAY room=\(room) seq=26")
    }

    @Test(arguments: ["always", "batch"])
    func everyOKedEventSurvivesKill9(fsync: String) throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        let configPath = TestConfig.yamlFile(in: dir.path, dataDir: dataDir, fsync: fsync)
        let room = "rural-east-midlands/general"
        var acknowledged: [String] = []
        do {
            let server = try ServerProcess(config: configPath, logDir: dir.path)
            let client = try server.joinedClient("boston-mind", room: room, register: true)
            for n in 1...30 {
                let reply = try client.send("SAY \(room) event \(n)")
                #expect(reply.last == "OK SAY room=\(room) seq=\(n)")
                acknowledged.append(reply[0])
            }
            // Keep posting without waiting, then kill mid-stream: only what was OKed must come back.
            try client.connection.send(raw: Array((31...60).map { "SAY \(room) unacknowledged \($0)\n" }.joined().utf8))
            server.kill9()
        }
        let server = try ServerProcess(config: configPath, logDir: dir.path)
        let client = try server.joinedClient("boston-mind", room: room, register: false)
        let history = try client.send("HISTORY \(room) limit=500").dropLast()
        #expect(Array(history.prefix(30)) == acknowledged)
        let seqs = history.map { Int($0.split(separator: " ")[2])! }
        #expect(seqs == Array(1...seqs.count), "no gaps in seq")
        #expect(server.stop() == 0)
    }

    @Test func sigtermSaysByeAndExitsZero() throws {
        let dir = TempDir()
        let configPath = TestConfig.yamlFile(in: dir.path, dataDir: dir.path + "/data")
        let server = try ServerProcess(config: configPath, logDir: dir.path)
        let client = try TestClient(port: server.tlsPort, tls: true)
        try client.login("boston-mind")
        kill(server.process.processIdentifier, SIGTERM)
        #expect(try client.readLine() == "BYE SHUTDOWN :the server is shutting down")
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0)
    }

    @Test func aTornTailIsCutWithALogLineAndNothingAcknowledgedIsLost() throws {
        let dir = TempDir()
        let dataDir = dir.path + "/data"
        let configPath = TestConfig.yamlFile(in: dir.path, dataDir: dataDir)
        let room = "rural-east-midlands/general"
        var acknowledged: [String] = []
        do {
            let server = try ServerProcess(config: configPath, logDir: dir.path)
            let client = try server.joinedClient("boston-mind", room: room, register: true)
            for n in 1...5 { acknowledged.append(try client.send("SAY \(room) kept \(n)")[0]) }
            #expect(server.stop() == 0)
        }
        // A crash in the middle of writing a record leaves half of it at the end of the segment.
        let journalDir = dataDir + "/clusters/rural-east-midlands"
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: journalDir).filter { $0.hasSuffix(".journal") }.sorted().last)
        let handle = try #require(FileHandle(forWritingAtPath: journalDir + "/" + segment))
        handle.seekToEndOfFile()
        handle.write(Data("212 3f9a0c half a record".utf8))
        handle.closeFile()

        let server = try ServerProcess(config: configPath, logDir: dir.path)
        let client = try server.joinedClient("boston-mind", room: room, register: false)
        #expect(Array(try client.send("HISTORY \(room)").dropLast()) == acknowledged)
        #expect(try client.final("SAY \(room) after repair") == "OK SAY room=\(room) seq=6")
        #expect(server.stop() == 0)
        #expect(server.log.contains("torn tail"), "the cut is logged: \(server.log)")
    }
}
