@testable import PartnerlineServer
import PartnerlineStore
import Testing

@Suite struct HistoryIndexTests {
    @Test func keepsEveryStrideThEventAndFindsTheNearestBelow() {
        var index = HistoryIndex(stride: 4)
        for seq in UInt64(1)...10 {
            index.note(room: "a", seq: seq, at: RecordLocation(segment: 1, offset: Int(seq) * 100))
            index.note(room: "b", seq: seq, at: RecordLocation(segment: 1, offset: Int(seq) * 100 + 50))
        }
        #expect(index.entryCount == 6)  // seqs 1, 5, 9 of each room
        #expect(index.start(room: "a", forSeq: 1)?.seq == 1)
        #expect(index.start(room: "a", forSeq: 4)?.seq == 1)
        #expect(index.start(room: "a", forSeq: 5)?.seq == 5)
        #expect(index.start(room: "a", forSeq: 8)?.location == RecordLocation(segment: 1, offset: 500))
        #expect(index.start(room: "b", forSeq: 10)?.location == RecordLocation(segment: 1, offset: 950))
        #expect(index.start(room: "b", forSeq: 99)?.seq == 9, "past the last entry: the last entry")
        #expect(index.start(room: "c", forSeq: 1) == nil)
        #expect(index.start(room: "a", forSeq: 0) == nil)
        // Noting the same seq again changes nothing.
        index.note(room: "a", seq: 5, at: RecordLocation(segment: 9, offset: 9))
        #expect(index.start(room: "a", forSeq: 5)?.location == RecordLocation(segment: 1, offset: 500))
    }
}
