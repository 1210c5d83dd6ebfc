@testable import PartnerlineServer
import Testing

/// When the memory trimmer gives freed heap pages back: when asked, when a busy spell ends and
/// once more a while after, never while the server stays quiet or busy without asking.
struct TrimPolicyTests {
    /// The ticks (0-based) on which a policy trims, given each tick's CPU seconds and requests.
    func trims(_ policy: TrimPolicy, cpu: [Double], requested: Set<Int> = []) -> [Int] {
        var policy = policy
        return cpu.indices.filter { policy.tick(requested: requested.contains($0), cpuSecondsThisTick: cpu[$0]) }
    }

    @Test func aQuietServerIsNeverTrimmed() {
        #expect(trims(TrimPolicy(), cpu: Array(repeating: 0.001, count: 100)).isEmpty)
        #expect(trims(TrimPolicy(), cpu: Array(repeating: 0.049, count: 100)).isEmpty, "below 5% of a core is quiet")
    }

    @Test func aRequestTrimsAtOnceBusyOrNot() {
        #expect(trims(TrimPolicy(), cpu: Array(repeating: 0, count: 10), requested: [3, 7]) == [3, 7])
        #expect(trims(TrimPolicy(), cpu: Array(repeating: 0.5, count: 10), requested: [2]) == [2])
        #expect(trims(TrimPolicy(), cpu: Array(repeating: 0.5, count: 10)).isEmpty, "busy alone does not trim")
    }

    @Test func goingQuietTrimsOnceAfterABusySpell() {
        // Busy at 1-3, quiet from 4 (trim once), busy at 7, quiet at 8 (trim once).
        #expect(trims(TrimPolicy(), cpu: [0.0, 0.3, 0.3, 0.3, 0.0, 0.0, 0.0, 0.2, 0.0, 0.0]) == [4, 8])
        // A request during the spell does not stand in for the trim at its end.
        #expect(trims(TrimPolicy(), cpu: [0.3, 0.3, 0.0, 0.0], requested: [1]) == [1, 2])
        // A request on the quiet tick is that trim.
        #expect(trims(TrimPolicy(), cpu: [0.3, 0.0, 0.0, 0.0], requested: [1]) == [1])
    }

    /// Once more a while after going quiet (idle worker threads exit and hand back what they
    /// cached); a busy tick in between starts over.
    @Test func aSettlingTrimFollowsTheQuietOne() {
        let quiet = Array(repeating: 0.0, count: 20)
        #expect(trims(TrimPolicy(settleTicks: 8), cpu: [0.3] + quiet) == [1, 9])
        #expect(trims(TrimPolicy(settleTicks: 8), cpu: [0.3, 0, 0, 0, 0.3] + quiet) == [1, 5, 13])
        #expect(trims(TrimPolicy(settleTicks: 3), cpu: [0.3, 0.3, 0.3] + quiet) == [3, 6])
        // Requests meanwhile do not cancel it.
        #expect(trims(TrimPolicy(settleTicks: 8), cpu: [0.3] + quiet, requested: [4]) == [1, 4, 9])
        #expect(trims(TrimPolicy(settleTicks: 0), cpu: [0.3] + quiet) == [1, 2], "at least one tick later")
    }
}
