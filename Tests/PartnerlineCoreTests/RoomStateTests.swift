import PartnerlineCore
import PartnerlineProtocol
import Testing

struct RoomStateTests {
    let name = RoomName(cluster: "rural", room: "purchasing")

    func room(events count: Int) throws -> RoomState {
        var room = RoomState(name: name, topic: "t")
        for seq in 1...UInt64(count) {
            try room.append(StoredEvent(room: name, seq: seq, timeMillis: Int64(seq) * 1000, actor: "a", kind: "SAY", text: "m\(seq)"))
        }
        return room
    }

    func seqs(_ lines: ArraySlice<[UInt8]>) -> [Int] {
        lines.map { line in
            let parts = String(decoding: line, as: UTF8.self).split(separator: " ")
            return Int(parts[2])!
        }
    }

    @Test func newestByDefault() throws {
        let room = try room(events: 10)
        #expect(seqs(room.history(after: nil, before: nil, limit: 3)) == [8, 9, 10])
        #expect(seqs(room.history(after: nil, before: nil, limit: 50)) == Array(1...10))
    }

    @Test func beforeTakesTheLatestBelow() throws {
        let room = try room(events: 10)
        #expect(seqs(room.history(after: nil, before: 5, limit: 2)) == [3, 4])
        #expect(seqs(room.history(after: nil, before: 1, limit: 5)) == [])
        #expect(seqs(room.history(after: nil, before: 0, limit: 5)) == [])
        #expect(seqs(room.history(after: nil, before: 99, limit: 2)) == [9, 10])
    }

    @Test func afterTakesTheOldestAbove() throws {
        let room = try room(events: 10)
        #expect(seqs(room.history(after: 4, before: nil, limit: 2)) == [5, 6])
        #expect(seqs(room.history(after: 10, before: nil, limit: 2)) == [])
        #expect(seqs(room.history(after: 2, before: 6, limit: 50)) == [3, 4, 5])
        #expect(seqs(room.history(after: 6, before: 3, limit: 50)) == [])
    }

    @Test func emptyRoom() {
        let room = RoomState(name: name, topic: "")
        #expect(room.history(after: nil, before: nil, limit: 50).isEmpty)
        #expect(room.lastSeq == 0)
    }

    @Test func refusesAGapInSeq() throws {
        var room = try room(events: 2)
        #expect(throws: ReplayError.self) {
            try room.append(StoredEvent(room: name, seq: 4, timeMillis: 1, actor: "a", kind: "SAY", text: "x"))
        }
        #expect(room.lastSeq == 2)
    }

    @Test func historyLinesAreTheEncodedEvents() throws {
        let room = try room(events: 1)
        let line = String(decoding: room.history(after: nil, before: nil, limit: 1).first!, as: UTF8.self)
        #expect(line == "EV rural/purchasing 1 1970-01-01T00:00:01.000Z a SAY :m1\r\n")
    }
}
