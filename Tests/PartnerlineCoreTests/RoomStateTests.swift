import PartnerlineCore
import PartnerlineProtocol
import Testing

extension RoomState {
    /// HISTORY answered from memory alone (every range these tests ask for is inside the window).
    func history(after: UInt64?, before: UInt64?, limit: Int) -> [[UInt8]] {
        guard let range = historyRange(after: after, before: before, limit: limit) else { return [] }
        return lines(in: range)!
    }
}

struct RoomStateTests {
    let name = RoomName(cluster: "rural", room: "purchasing")

    func room(events count: Int, window: Int = RoomState.defaultHistoryWindow) throws -> RoomState {
        var room = RoomState(name: name, topic: "t", historyWindow: window)
        for seq in 1...UInt64(count) {
            try room.append(StoredEvent(room: name, seq: seq, timeMillis: Int64(seq) * 1000, actor: "a", kind: "SAY", text: "m\(seq)"))
        }
        return room
    }

    func seqs(_ lines: [[UInt8]]) -> [Int] {
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

    @Test func onlyABoundedWindowStaysInMemory() throws {
        let room = try room(events: 1000, window: 10)
        #expect(room.lastSeq == 1000)
        #expect(room.linesInMemory >= 10 && room.linesInMemory < 20)
        // The newest events come from memory; older ranges are for the journal.
        #expect(seqs(room.lines(in: 991...1000)!) == Array(991...1000))
        #expect(room.lines(in: 1...5) == nil)
        #expect(room.lines(in: (room.windowFirstSeq - 1)...1000) == nil)
        #expect(seqs(room.lines(in: room.windowFirstSeq...room.windowFirstSeq)!) == [Int(room.windowFirstSeq)])
        // The range logic does not depend on what is in memory.
        #expect(room.historyRange(after: nil, before: 5, limit: 2) == 3...4)
        #expect(room.historyRange(after: 4, before: nil, limit: 2) == 5...6)
        #expect(room.historyRange(after: nil, before: nil, limit: 500) == 501...1000)
        #expect(room.historyRange(after: 1000, before: nil, limit: 5) == nil)
    }

    /// `more=`: whether the bounds asked for hold events beyond the page in the direction read.
    @Test func historyPagesSayWhetherMoreIsLeft() throws {
        let room = try room(events: 10)
        typealias Page = RoomState.HistoryPage
        #expect(room.historyPage(after: nil, before: nil, limit: 3) == Page(range: 8...10, more: true))
        #expect(room.historyPage(after: nil, before: nil, limit: 10) == Page(range: 1...10, more: false))
        #expect(room.historyPage(after: nil, before: nil, limit: 50) == Page(range: 1...10, more: false))
        #expect(room.historyPage(after: nil, before: 4, limit: 3) == Page(range: 1...3, more: false))
        #expect(room.historyPage(after: nil, before: 5, limit: 3) == Page(range: 2...4, more: true))
        #expect(room.historyPage(after: 7, before: nil, limit: 3) == Page(range: 8...10, more: false))
        #expect(room.historyPage(after: 6, before: nil, limit: 3) == Page(range: 7...9, more: true))
        // Both bounds: forwards from `after`, `more` only counts events below `before`.
        #expect(room.historyPage(after: 2, before: 7, limit: 4) == Page(range: 3...6, more: false))
        #expect(room.historyPage(after: 2, before: 8, limit: 4) == Page(range: 3...6, more: true))
        // Nothing in the bounds: no page, nothing more.
        #expect(room.historyPage(after: 10, before: nil, limit: 5) == Page(range: nil, more: false))
        #expect(room.historyPage(after: nil, before: 1, limit: 5) == Page(range: nil, more: false))
        #expect(room.historyPage(after: 5, before: 6, limit: 5) == Page(range: nil, more: false))
        #expect(try self.room(events: 1).historyPage(after: nil, before: nil, limit: 0) == Page(range: nil, more: false))
    }

    /// Walking a room page by page, each page's bound the last seq returned, visits every seq once.
    @Test func pagingWalksEverySeqOnceBothWays() throws {
        let room = try room(events: 2000, window: 5000)
        for limit in [1, 7, 50, 500, 1999, 2000, 2001] {
            var forwards: [UInt64] = []
            var after: UInt64 = 0
            while true {
                let page = room.historyPage(after: after, before: nil, limit: limit)
                guard let range = page.range else { break }
                forwards += Array(range)
                after = range.upperBound
                if !page.more { break }
            }
            #expect(forwards == Array(1...2000), "forwards, limit \(limit)")
            var backwards: [UInt64] = []
            var before: UInt64? = nil
            while true {
                let page = room.historyPage(after: nil, before: before, limit: limit)
                guard let range = page.range else { break }
                backwards = Array(range) + backwards
                before = range.lowerBound
                if !page.more { break }
            }
            #expect(backwards == Array(1...2000), "backwards, limit \(limit)")
        }
    }

    /// Replayed events are encoded only if they are still in the window: ranges over them read the
    /// same before and after `encodeDeferredLines()`, and a live append after replay goes after them.
    @Test func replayedLinesAreEncodedOnlyForTheWindow() throws {
        var room = try room(events: 1000, window: 10)
        let expected = (room.windowFirstSeq...1000).map { seq in
            StoredEvent(room: name, seq: seq, timeMillis: Int64(seq) * 1000, actor: "a", kind: "SAY", text: "m\(seq)").encodedLine()
        }
        #expect(room.lines(in: room.windowFirstSeq...1000) == expected)
        #expect(room.lines(in: 995...996) == Array(expected[(995 - Int(room.windowFirstSeq))...(996 - Int(room.windowFirstSeq))]))
        room.encodeDeferredLines()
        #expect(room.lines(in: room.windowFirstSeq...1000) == expected)
        #expect(room.linesInMemory == expected.count)

        // Replay, then live posts before anyone encoded the deferred ones, then more replay-style
        // appends: seq order and the window hold across the two kinds.
        var mixed = try self.room(events: 25, window: 10)
        mixed.append(seq: 26, timeMillis: 26_000, line: Array("EV rural/purchasing 26 t a SAY :live\r\n".utf8))
        try mixed.append(StoredEvent(room: name, seq: 27, timeMillis: 27_000, actor: "a", kind: "SAY", text: "m27"))
        #expect(seqs(mixed.lines(in: 20...27)!) == Array(20...27))
        #expect(mixed.linesInMemory >= 10 && mixed.linesInMemory < 20)
        #expect(throws: ReplayError.self) {
            try mixed.append(StoredEvent(room: name, seq: 29, timeMillis: 1, actor: "a", kind: "SAY", text: "gap"))
        }
    }

    @Test func theWindowIsTrimmedAsEventsArrive() throws {
        var room = RoomState(name: name, topic: "", historyWindow: 3)
        for seq in 1...UInt64(100) {
            room.append(seq: seq, timeMillis: 1, line: Array("EV rural/purchasing \(seq) t a SAY :m\r\n".utf8))
            #expect(room.linesInMemory <= 3 + room.trimSlack)
            #expect(room.lines(in: (seq > 2 ? seq - 2 : 1)...seq) != nil, "the newest three are always in memory")
        }
    }

    /// Live lines: never more than an eighth beyond the window (the whole window was the slack
    /// once, up to twice the memory), and the newest `historyWindow` always in memory.
    @Test func liveLinesStayWithinAnEighthOfTheWindow() throws {
        var room = RoomState(name: name, topic: "", historyWindow: 80)
        #expect(room.trimSlack == 10)
        var most = 0
        for seq in 1...UInt64(1000) {
            room.append(seq: seq, timeMillis: 1, line: Array("EV rural/purchasing \(seq) t a SAY :m\r\n".utf8))
            most = max(most, room.linesInMemory)
            #expect(room.linesInMemory >= min(Int(seq), 80))
            #expect(room.lines(in: (seq > 79 ? seq - 79 : 1)...seq) != nil, "the newest 80 are in memory")
        }
        #expect(most == 90)
        #expect(RoomState(name: name, topic: "", historyWindow: 1).trimSlack == 1)
        #expect(RoomState.defaultHistoryWindow == 200)
    }

    /// Replayed and live appends keep the same window at every seq: a checkpoint taken from the
    /// live state must equal a full replay of the journal.
    @Test func replayAndLiveHoldTheSameWindow() throws {
        var replayed = RoomState(name: name, topic: "", historyWindow: 10)
        var live = RoomState(name: name, topic: "", historyWindow: 10)
        for seq in 1...UInt64(500) {
            let event = StoredEvent(room: name, seq: seq, timeMillis: Int64(seq) * 1000, actor: "a", kind: "SAY", text: "m\(seq)")
            try replayed.append(event)
            live.append(seq: seq, timeMillis: event.timeMillis, line: event.encodedLine())
            #expect(replayed.linesInMemory == live.linesInMemory, "seq \(seq)")
            #expect(replayed.windowFirstSeq == live.windowFirstSeq, "seq \(seq)")
            #expect(replayed.linesInMemory <= 10 + replayed.trimSlack)
        }
        replayed.encodeDeferredLines()
        #expect(replayed.lines(in: replayed.windowFirstSeq...500) == live.lines(in: live.windowFirstSeq...500))
    }
}
