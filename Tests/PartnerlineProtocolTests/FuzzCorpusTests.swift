import Foundation
@testable import PartnerlineProtocol
import Testing

/// A small smoke of the libFuzzer target (Tests/Fuzz/run-fuzz.sh runs the real thing): the seed
/// corpus and a batch of seeded random inputs go through the same property check.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")

    @Test func everySeedInputKeepsTheFramingAndParsingProperties() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).sorted()
        #expect(files.count >= 10)
        for file in files {
            let input = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent(file)))
            #expect(FramingSelfCheck.check(input) == nil, "\(file)")
        }
    }

    @Test func randomInputsBuiltFromProtocolPiecesKeepTheProperties() {
        let pieces: [[UInt8]] = ["@t1 ", "PING", "SAY ", "HISTORY ", "REGISTER ", "rural-east-midlands/general", " ", "\t",
                                 "limit=5", "tags=\"a,b\"", "\\\"", ":", "=", "\n", "\r\n", "\r", "\u{0}", "é", "\u{1B}",
                                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"].map { Array($0.utf8) } + [[0xFF], [0xC3]]
        var random = SplitMix64(seed: 2026)
        for round in 0..<3000 {
            var input: [UInt8] = (0..<8).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            for _ in 0..<Int(random.next() % 40) { input += pieces[Int(random.next() % UInt64(pieces.count))] }
            if let problem = FramingSelfCheck.check(input) {
                Issue.record("round \(round): \(problem)")
                return
            }
        }
    }
}
