import PartnerlineBench
import Testing

/// Which process bounded a row: the verdict and the note a row gets.
@Suite struct RulerTests {
    @Test func theBusierProcessIsTheBound() {
        #expect(Ruler.bound(serverCPU: 49, benchCPU: 90) == .bench)
        #expect(Ruler.bound(serverCPU: 85, benchCPU: 40) == .server)
        #expect(Ruler.bound(serverCPU: 50, benchCPU: 50) == .server, "a tie is not flagged")
        #expect(Ruler.bound(serverCPU: nil, benchCPU: 10) == .unknown)
    }

    @Test func aBenchBoundRowSaysSoWithBothCPUs() throws {
        #expect(Ruler.note(serverCPU: 85, benchCPU: 40) == nil)
        let note = try #require(Ruler.note(serverCPU: 49.2, benchCPU: 90.4))
        #expect(note.hasPrefix("bench-bound: the load generator used 90% of a core, the server 49%"), "\(note)")
        #expect(Ruler.note(serverCPU: nil, benchCPU: 10)?.contains("--server-pid") == true)
    }
}
