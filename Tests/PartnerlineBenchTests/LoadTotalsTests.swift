import Foundation
import PartnerlineBench
import Testing

/// The merge of the load side's figures (pure): across queues and worker processes, and through
/// the JSON a worker sends its parent.
@Suite struct LoadTotalsTests {
    private func part(_ values: [UInt64], deliveries: UInt64, acks: UInt64, cpu: Double, error: String? = nil) -> LoadTotals {
        var totals = LoadTotals()
        for value in values {
            totals.delivery.record(value)
            totals.ack.record(value * 2)
        }
        totals.deliveries = deliveries
        totals.acks = acks
        totals.cpuSeconds = cpu
        if let error {
            totals.errors = 1
            totals.firstError = error
        }
        return totals
    }

    @Test func mergingAddsCountsAndCPUAndKeepsTheFirstError() {
        let a = part([10, 20, 30], deliveries: 3, acks: 2, cpu: 0.5)
        let b = part([1_000, 50_000], deliveries: 2, acks: 1, cpu: 0.25, error: "worker 2: closed")
        let c = part([7], deliveries: 1, acks: 1, cpu: 0.125, error: "worker 3: later")
        let merged = LoadTotals.merged([a, b, c])
        #expect(merged.deliveries == 6)
        #expect(merged.acks == 4)
        #expect(merged.cpuSeconds == 0.875)
        #expect(merged.errors == 2)
        #expect(merged.firstError == "worker 2: closed")
        #expect(merged.delivery.totalCount == 6)
        #expect(merged.delivery.valueAtPercentile(100) >= 50_000)
        #expect(merged.delivery.valueAtPercentile(0) <= 7)
    }

    /// A histogram through a worker's JSON reads the same at every percentile as the original,
    /// and a merge of decoded parts equals the merge of the originals.
    @Test func histogramsSurviveTheWorkersJSON() throws {
        var random = SystemRandomNumberGenerator()
        let parts = (0..<3).map { index in
            part((0..<2_000).map { _ in UInt64.random(in: 1...(index == 2 ? 30_000_000 : 200_000), using: &random) },
                 deliveries: 2_000, acks: 2_000, cpu: 1)
        }
        let decoded = try parts.map { try JSONDecoder().decode(LoadTotals.self, from: JSONEncoder().encode($0)) }
        let direct = LoadTotals.merged(parts)
        let viaJSON = LoadTotals.merged(decoded)
        #expect(viaJSON.delivery.totalCount == direct.delivery.totalCount)
        for percentile in [0.0, 1, 25, 50, 90, 99, 99.9, 99.99, 100] {
            #expect(viaJSON.delivery.valueAtPercentile(percentile) == direct.delivery.valueAtPercentile(percentile), "p\(percentile)")
            #expect(viaJSON.ack.valueAtPercentile(percentile) == direct.ack.valueAtPercentile(percentile), "ack p\(percentile)")
        }
        #expect(viaJSON.deliveries == direct.deliveries)
        #expect(viaJSON.cpuSeconds == direct.cpuSeconds)
    }

    @Test func aSparseHistogramKeepsOnlyFilledBuckets() {
        var histogram = LoadTotals.makeHistogram()
        histogram.record(5, count: 3)
        histogram.record(1_000_000)
        let sparse = SparseHistogram(histogram)
        #expect(sparse.values.count == 2)
        #expect(sparse.counts == [3, 1])
        #expect(sparse.histogram() == histogram)
    }
}
