import Dispatch
import Histogram
import Synchronization

/// Counters and histograms of the clients owned by one I/O queue, touched only on that queue
/// (no locks on the hot path); merged once at the end of a run.
final class QueueStats: @unchecked Sendable {
    /// Microseconds, up to 60 s, 3 significant digits.
    static func makeHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    }

    /// Post (send) -> delivery at another client.
    var delivery = QueueStats.makeHistogram()
    /// Post -> its acknowledgement (OK, or PONG after PRIVMSG for IRC) / request -> reply.
    var ack = QueueStats.makeHistogram()
    /// Connect -> first server line (greeting).
    var connect = QueueStats.makeHistogram()
    var deliveries: UInt64 = 0
    var acks: UInt64 = 0
    var errors: UInt64 = 0
    var firstError: String?

    func recordError(_ text: String) {
        errors += 1
        if firstError == nil { firstError = text }
    }

    /// Adds another queue's figures to these (the end-of-run merge).
    func absorb(_ other: QueueStats) {
        delivery.add(other.delivery)
        ack.add(other.ack)
        connect.add(other.connect)
        deliveries += other.deliveries
        acks += other.acks
        errors += other.errors
        if firstError == nil { firstError = other.firstError }
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
    func totals() -> QueueStats {
        let totals = QueueStats()
        for (queue, stats) in byQueue.values {
            queue.sync { totals.absorb(stats) }
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
            }
        }
    }
}
