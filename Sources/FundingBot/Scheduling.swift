import Foundation

/// When each feed is polled next. Pure: times are seconds on any monotonic clock, randomness comes
/// in as a number in 0..<1, so tests can state exact expectations.
///
/// After a good poll the feed waits its interval plus up to `jitter` of it (so feeds set to the
/// same interval drift apart instead of all hitting the network at once). After a failure it
/// waits a short, doubling delay: an eighth of its interval (at least a minute, or the interval if
/// that is shorter), then twice that,
/// and so on up to `maxBackoff`, so a feed that is down is tried again soon but not hammered.
public struct FeedSchedule: Sendable {
    public struct Slot: Sendable, Equatable {
        public var due: Double
        public var failures: Int
    }

    public let intervals: [String: Double]
    public let jitter: Double
    public let maxBackoff: Double
    public private(set) var slots: [String: Slot]

    /// `intervals` in seconds; every feed is due at `now`.
    public init(intervals: [String: Double], jitter: Double, maxBackoffSeconds: Double, now: Double) {
        self.intervals = intervals
        self.jitter = jitter
        maxBackoff = maxBackoffSeconds
        slots = intervals.mapValues { _ in Slot(due: now, failures: 0) }
    }

    /// The feed due soonest, and when.
    public func next() -> (feed: String, due: Double)? {
        slots.min { ($0.value.due, $0.key) < ($1.value.due, $1.key) }.map { ($0.key, $0.value.due) }
    }

    public mutating func succeeded(_ feed: String, now: Double, random: Double) {
        guard let interval = intervals[feed] else { return }
        slots[feed] = Slot(due: now + interval * (1 + jitter * random), failures: 0)
    }

    public mutating func failed(_ feed: String, now: Double, random: Double) {
        guard let interval = intervals[feed], let slot = slots[feed] else { return }
        let failures = slot.failures + 1
        slots[feed] = Slot(due: now + Self.backoff(interval: interval, failures: failures, cap: maxBackoff) * (1 + jitter * random),
                           failures: failures)
    }

    public static func backoff(interval: Double, failures: Int, cap: Double) -> Double {
        // A minute at least, unless the feed is polled more often than that anyway.
        let base = max(min(60, interval), interval / 8)
        let factor = pow(2, Double(min(max(failures - 1, 0), 30)))
        return min(cap, base * factor)
    }
}

/// A token bucket on the bot's side, so posting stays under the server's bot flood rate instead of
/// being held back or refused there. Pure: `delay(now:)` says how long to wait before the next send.
public struct Pacer: Sendable {
    public let ratePerSecond: Double
    public let burst: Double
    private var tokens: Double
    private var last: Double?

    public init(ratePerSecond: Double, burst: Double) {
        self.ratePerSecond = ratePerSecond
        self.burst = max(1, burst)
        tokens = self.burst
    }

    /// Seconds to wait before sending now; the send is counted.
    public mutating func delay(now: Double) -> Double {
        if let last { tokens = min(burst, tokens + (now - last) * ratePerSecond) }
        last = now
        if tokens >= 1 {
            tokens -= 1
            return 0
        }
        let wait = (1 - tokens) / ratePerSecond
        tokens = 0
        last = now + wait
        return wait
    }
}
