import Testing
@testable import PartnerlineProtocol

/// Feeds the chunks in order, checking the memory bound after every feed.
private func frame(_ chunks: [[UInt8]], max: Int = 16) -> [FramedLine] {
    var framer = LineFramer(maxLineLength: max)
    var out: [FramedLine] = []
    for chunk in chunks {
        framer.feed(chunk) { out.append($0) }
        #expect(framer.bufferedByteCount <= max + 1)
    }
    return out
}

private func frame(_ s: String, max: Int = 16) -> [FramedLine] { frame([bytes(s)], max: max) }

private func line(_ s: String) -> FramedLine { .line(bytes(s)) }

/// What the framer must report, computed the obvious way from the whole input.
private func reference(_ input: [UInt8], max: Int) -> [FramedLine] {
    var out: [FramedLine] = []
    var pieces = input.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
    let unterminated = pieces.removeLast()
    for var piece in pieces {
        if piece.last == 0x0D { piece.removeLast() }
        if piece.count > max { out.append(.tooLong) } else if !piece.isEmpty { out.append(.line(piece)) }
    }
    // An unfinished line is reported only once it is certainly too long.
    if unterminated.count > max + 1 || (unterminated.count == max + 1 && unterminated.last != 0x0D) {
        out.append(.tooLong)
    }
    return out
}

@Suite("LineFramer")
struct LineFramerTests {
    @Test func lfAndCrlfTerminators() {
        #expect(frame("PING\nSAY a/b hi\r\nQUIT\n") == [line("PING"), line("SAY a/b hi"), line("QUIT")])
    }

    @Test func emptyLinesAreSkipped() {
        #expect(frame("\n\r\n\n\r\nPING\n\n") == [line("PING")])
        #expect(frame("\n\n\n").isEmpty)
    }

    @Test func onlyTheTerminatingCarriageReturnIsDropped() {
        #expect(frame("a\rb\n") == [.line([0x61, 0x0D, 0x62])])
        #expect(frame("a\r\r\n") == [.line([0x61, 0x0D])])
        #expect(frame("\r\r\n") == [.line([0x0D])])
    }

    @Test func unfinishedLineWaitsForItsNewline() {
        var framer = LineFramer(maxLineLength: 16)
        var out: [FramedLine] = []
        framer.feed(bytes("PI")) { out.append($0) }
        #expect(out.isEmpty)
        #expect(framer.bufferedByteCount == 2)
        framer.feed(bytes("NG\r")) { out.append($0) }
        #expect(out.isEmpty)
        #expect(framer.bufferedByteCount == 5)
        framer.feed(bytes("\nQU")) { out.append($0) }
        #expect(out == [line("PING")])
        #expect(framer.bufferedByteCount == 2)
    }

    @Test func nulBytesPassThrough() {
        #expect(frame([[0x61, 0x00, 0x62, 0x0A]]) == [.line([0x61, 0x00, 0x62])])
    }

    @Test func lineOfExactlyTheMaximumIsAccepted() {
        let max = String(repeating: "x", count: 16)
        #expect(frame(max + "\n") == [line(max)])
        #expect(frame(max + "\r\n") == [line(max)])
        // Split right after the CR that brings the buffer to max + 1.
        #expect(frame([bytes(max + "\r"), bytes("\n")]) == [line(max)])
        #expect(frame([bytes(max), bytes("\r"), bytes("\n")]) == [line(max)])
    }

    @Test func lineOneOverTheMaximumIsTooLong() {
        let over = String(repeating: "x", count: 17)
        #expect(frame(over + "\n") == [.tooLong])
        #expect(frame(over + "\r\n") == [.tooLong])
        #expect(frame([bytes(over), bytes("\n")]) == [.tooLong])
        // Max bytes then a CR that is not followed by LF: the CR is content.
        let max = String(repeating: "x", count: 16)
        #expect(frame([bytes(max + "\r"), bytes("y\n")]) == [.tooLong])
        #expect(frame([bytes(max + "\r"), bytes("\r\n")]) == [.tooLong])
    }

    @Test func tooLongLineFollowedByGoodLine() {
        let long = String(repeating: "y", count: 100)
        #expect(frame(long + "\nPING\n") == [.tooLong, line("PING")])
        #expect(frame(long + "\r\nPING\r\n" + long + "\nQUIT\n") == [.tooLong, line("PING"), .tooLong, line("QUIT")])
    }

    @Test func tooLongLineWithoutNewlineIsReportedOnceAndMemoryStaysBounded() {
        var framer = LineFramer(maxLineLength: 16)
        var out: [FramedLine] = []
        for _ in 0..<10_000 {
            framer.feed(bytes("abcdefg")) { out.append($0) }
            #expect(framer.bufferedByteCount <= 17)
        }
        #expect(out == [.tooLong])
        #expect(framer.isDiscarding)
        #expect(framer.bufferedByteCount == 0)
        framer.feed(bytes("still the same line\nPING\n")) { out.append($0) }
        #expect(out == [.tooLong, line("PING")])
        #expect(!framer.isDiscarding)
    }

    @Test func tooLongIsReportedAsSoonAsItIsCertain() {
        var framer = LineFramer(maxLineLength: 4)
        var out: [FramedLine] = []
        framer.feed(bytes("abcd")) { out.append($0) }
        #expect(out.isEmpty)
        framer.feed(bytes("\r")) { out.append($0) }
        #expect(out.isEmpty)  // may still be "abcd" CRLF
        framer.feed(bytes("e")) { out.append($0) }
        #expect(out == [.tooLong])
    }

    @Test func hugeSingleChunkWithoutNewlineHoldsNothing() {
        var framer = LineFramer(maxLineLength: 4096)
        var out: [FramedLine] = []
        framer.feed([UInt8](repeating: 0x41, count: 1_000_000)) { out.append($0) }
        #expect(out == [.tooLong])
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func defaultMaximumIs4096() {
        let ok = String(repeating: "a", count: 4096)
        #expect(frame([bytes(ok + "\n" + ok + "a\n")], max: 4096) == [line(ok), .tooLong])
        #expect(LineFramer().maxLineLength == 4096)
    }

    @Test func rawBufferFeedMatchesArrayFeed() {
        var framer = LineFramer()
        var out: [FramedLine] = []
        let input = bytes("PING\r\nSAY a/b hi\n")
        input.withUnsafeBytes { raw in framer.feed(raw) { out.append($0) } }
        #expect(out == [line("PING"), line("SAY a/b hi")])
    }

    @Test func splittingAtEveryBytePositionGivesTheSameLines() {
        let long = String(repeating: "z", count: 40)
        let input = bytes("PING\r\n\nSAY a/b hello\n" + long + "\r\nx\r\r\n" + String(repeating: "q", count: 16) + "\r\nQUIT")
        let whole = frame([input])
        #expect(whole == reference(input, max: 16))
        #expect(whole.count == 5)
        for cut in 0...input.count {
            #expect(frame([Array(input[..<cut]), Array(input[cut...])]) == whole, "cut at \(cut)")
        }
        for first in 0...input.count {
            for second in first...input.count where second - first <= 20 {
                let parts = [Array(input[..<first]), Array(input[first..<second]), Array(input[second...])]
                #expect(frame(parts) == whole)
            }
        }
        #expect(frame(input.map { [$0] }) == whole)
    }

    @Test func randomInputAndSplitsMatchTheReference() {
        var rng = SplitMix64(seed: 42)
        let alphabet: [UInt8] = [0x61, 0x62, 0x0D, 0x0A, 0x20, 0x00]
        for round in 0..<500 {
            let max = Int.random(in: 1...12, using: &rng)
            let length = Int.random(in: 0...80, using: &rng)
            let input = (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
            var chunks: [[UInt8]] = []
            var i = 0
            while i < input.count {
                let n = Int.random(in: 1...7, using: &rng)
                chunks.append(Array(input[i..<Swift.min(i + n, input.count)]))
                i += n
            }
            #expect(frame(chunks, max: max) == reference(input, max: max), "round \(round)")
        }
    }
}
