import Foundation
import PartnerlineTestSupport
import Testing

/// Pipelined SAYs: a client that sends many posts without waiting gets every reply in command
/// order, each EV before its OK, and a non-post command after them sees them all.
@Suite struct PipelineTests {
    let room = "rural-east-midlands/general"

    @Test func pipelinedPostsAnswerInOrderWithTheirEventsFirst() throws {
        let dir = TempDir()
        let server = try InProcessServer(TestConfig.make(dataDir: dir.path))
        let client = try server.client()
        try client.login("boston-mind")
        #expect(try client.final("JOIN \(room)").hasPrefix("OK JOIN"))
        // 30 SAYs, an ERR in the middle (a room not joined), tagged lines, then HISTORY, in one write.
        var batch = (1...15).map { "@t\($0) SAY \(room) message \($0)\n" }.joined()
        batch += "SAY rural-east-midlands/purchasing not joined\n"
        batch += (16...30).map { "say \(room) message \($0)\n" }.joined()
        batch += "@h HISTORY \(room) limit=500\n"
        try client.connection.send(raw: Array(batch.utf8))

        var finals: [String] = []
        var lastEventSeq = 0
        var history: [String] = []
        while finals.count < 32 {
            let line = try client.readLine()
            if line.hasPrefix("@h ") {
                if line.hasPrefix("@h EV ") { history.append(line) } else { finals.append(line) }
                continue
            }
            let body = String(TestClient.untagged(line))
            if body.hasPrefix("EV ") {
                lastEventSeq = Int(body.split(separator: " ")[2])!
                continue
            }
            finals.append(line)
            if body.hasPrefix("OK SAY") {
                let seq = Int(body.split(separator: "seq=")[1])!
                #expect(lastEventSeq >= seq, "the EV of seq \(seq) comes before its OK")
            }
        }
        let expected = (1...15).map { "@t\($0) OK SAY room=\(room) seq=\($0)" }
            + ["ERR NOT_JOINED SAY"]
            + (16...30).map { "OK SAY room=\(room) seq=\($0)" }
            + ["@h OK HISTORY room=\(room) count=30 more=no"]
        #expect(finals.count == expected.count)
        for (got, want) in zip(finals, expected) {
            #expect(got.hasPrefix(want), "\(got) should start with \(want)")
        }
        #expect(history.count == 30, "HISTORY waited for the posts before it")
        server.stop()
    }
}
