import Dispatch
import Histogram
import Synchronization

/// Counters and histograms of the clients owned by one I/O queue, touched only on that queue
/// (no locks on the hot path); merged once at the end of a run.
final class QueueStats: @unchecked Sendable {
    static func makeHistogram() -> Histogram<UInt64> { LoadTotals.makeHistogram() }

    /// Post (send) -> delivery at another client.
    var delivery = QueueStats.makeHistogram()
    /// Post -> its acknowledgement (OK, or PONG after PRIVMSG for IRC) / request -> reply.
    var ack = QueueStats.makeHistogram()
    /// Connect -> first server line (greeting).
    var connect = QueueStats.makeHistogram()
    var deliveries: UInt64 = 0
    var acks: UInt64 = 0
    /// Posts sent (acknowledged or not: an IRC paced post has no acknowledgement).
    var posted: UInt64 = 0
    var errors: UInt64 = 0
    var firstError: String?

    func recordError(_ text: String) {
        errors += 1
        if firstError == nil { firstError = text }
    }
}

/// The switches every client reads: whether to keep posting and whether this moment counts.
final class RunControl: Sendable {
    let sending = Atomic<Bool>(false)
    let measuring = Atomic<Bool>(false)
}

/// Per-queue stats for a set of clients, and their merge.
final class StatsBoard: @unchecked Sendable {
    private var byQueue: [ObjectIdentifier: (DispatchQueue, QueueStats)] = [:]

    /// Called from the thread that sets up clients only.
    func stats(for queue: DispatchQueue) -> QueueStats {
        if let entry = byQueue[ObjectIdentifier(queue)] { return entry.1 }
        let stats = QueueStats()
        byQueue[ObjectIdentifier(queue)] = (queue, stats)
        return stats
    }

    /// Every queue's stats merged, each read on its own queue.
    func totals() -> LoadTotals {
        var totals = LoadTotals()
        for (queue, stats) in byQueue.values {
            queue.sync { totals.absorb(LoadTotals(stats)) }
        }
        return totals
    }

    /// Clears counters at the start of a measured window.
    func reset() {
        for (queue, stats) in byQueue.values {
            queue.sync {
                stats.delivery = QueueStats.makeHistogram()
                stats.ack = QueueStats.makeHistogram()
                stats.deliveries = 0
                stats.acks = 0
                stats.posted = 0
            }
        }
    }
}

/// What a load side (this process's clients, or one worker process's) counted over a window,
/// as a value: merged across queues and across worker processes, and sent from a worker to its
/// parent as JSON (histograms as their non-empty buckets, see `SparseHistogram`).
public struct LoadTotals: Codable, Sendable {
    /// Microseconds, up to 60 s, 3 significant digits: the one layout every bench histogram has.
    public static func makeHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    }

    /// Post (send) -> delivery at another client.
    public var delivery = LoadTotals.makeHistogram()
    /// Post -> its acknowledgement / request -> reply.
    public var ack = LoadTotals.makeHistogram()
    /// Connect -> first server line.
    public var connect = LoadTotals.makeHistogram()
    public var deliveries: UInt64 = 0
    public var acks: UInt64 = 0
    /// Posts sent in the window.
    public var posted: UInt64 = 0
    public var errors: UInt64 = 0
    public var firstError: String?
    /// CPU seconds the load side used over the window (summed over worker processes).
    public var cpuSeconds: Double = 0

    public init() {}

    init(_ stats: QueueStats) {
        delivery = stats.delivery
        ack = stats.ack
        connect = stats.connect
        deliveries = stats.deliveries
        acks = stats.acks
        posted = stats.posted
        errors = stats.errors
        firstError = stats.firstError
    }

    /// Adds another part's figures to these: counts and CPU add up, histograms merge, the first
    /// error seen stays.
    public mutating func absorb(_ other: LoadTotals) {
        delivery.add(other.delivery)
        ack.add(other.ack)
        connect.add(other.connect)
        deliveries += other.deliveries
        acks += other.acks
        posted += other.posted
        errors += other.errors
        cpuSeconds += other.cpuSeconds
        if firstError == nil { firstError = other.firstError }
    }

    public static func merged(_ parts: [LoadTotals]) -> LoadTotals {
        var totals = LoadTotals()
        for part in parts { totals.absorb(part) }
        return totals
    }

    enum CodingKeys: String, CodingKey {
        case delivery, ack, connect, deliveries, acks, posted, errors, firstError, cpuSeconds
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        delivery = try container.decode(SparseHistogram.self, forKey: .delivery).histogram()
        ack = try container.decode(SparseHistogram.self, forKey: .ack).histogram()
        connect = try container.decode(SparseHistogram.self, forKey: .connect).histogram()
        deliveries = try container.decode(UInt64.self, forKey: .deliveries)
        acks = try container.decode(UInt64.self, forKey: .acks)
        posted = try container.decode(UInt64.self, forKey: .posted)
        errors = try container.decode(UInt64.self, forKey: .errors)
        firstError = try container.decodeIfPresent(String.self, forKey: .firstError)
        cpuSeconds = try container.decode(Double.self, forKey: .cpuSeconds)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(SparseHistogram(delivery), forKey: .delivery)
        try container.encode(SparseHistogram(ack), forKey: .ack)
        try container.encode(SparseHistogram(connect), forKey: .connect)
        try container.encode(deliveries, forKey: .deliveries)
        try container.encode(acks, forKey: .acks)
        try container.encode(posted, forKey: .posted)
        try container.encode(errors, forKey: .errors)
        try container.encodeIfPresent(firstError, forKey: .firstError)
        try container.encode(cpuSeconds, forKey: .cpuSeconds)
    }
}

/// A bench histogram as its non-empty buckets: (a value in the bucket, count). The full
/// histogram's counts array has ~50,000 slots for 1 us...60 s at 3 digits; a window's latencies
/// fill a few hundred. Rebuilt into a histogram of the same layout, every percentile reads the same:
/// each bucket is sent as its lowest value, except the top one, sent as the exact largest value
/// recorded (the 100th percentile is that value, not its bucket's).
public struct SparseHistogram: Codable, Equatable, Sendable {
    public var values: [UInt64] = []
    public var counts: [UInt64] = []

    public init(_ histogram: Histogram<UInt64>) {
        for bucket in histogram.recordedValues() {
            values.append(histogram.lowestEquivalentForValue(bucket.value))
            counts.append(bucket.count)
        }
        if !values.isEmpty { values[values.count - 1] = histogram.maxRecorded }
    }

    /// Throws-free: a value outside the bench layout (a corrupt message) is dropped, and the
    /// decoder's own checks catch malformed JSON.
    public func histogram() -> Histogram<UInt64> {
        var histogram = LoadTotals.makeHistogram()
        for (value, count) in zip(values, counts) { histogram.record(value, count: count) }
        return histogram
    }
}
