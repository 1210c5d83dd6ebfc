/// A token bucket for flood control: `burst` commands at once, refilled at `ratePerSecond`.
/// Pure: the caller passes the time (seconds on a monotonic clock), so tests need no clock.
struct TokenBucket: Sendable, Equatable {
    private(set) var burst: Double
    private(set) var ratePerSecond: Double
    private(set) var tokens: Double
    private var updatedAt: Double

    init(burst: Int, ratePerSecond: Double, now: Double) {
        self.burst = Double(max(1, burst))
        self.ratePerSecond = max(0.001, ratePerSecond)
        tokens = self.burst
        updatedAt = now
    }

    private mutating func refill(_ now: Double) {
        if now > updatedAt {
            tokens = min(burst, tokens + (now - updatedAt) * ratePerSecond)
            updatedAt = now
        }
    }

    /// Whole tokens available now.
    mutating func available(now: Double) -> Int {
        refill(now)
        return Int(tokens)
    }

    /// Takes one token if there is one.
    mutating func take(now: Double) -> Bool {
        refill(now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// When the next token will be there (now, if one already is).
    mutating func nextTokenAt(now: Double) -> Double {
        refill(now)
        return tokens >= 1 ? now : now + (1 - tokens) / ratePerSecond
    }

    /// Switches to other limits (a bot after LOGIN), keeping what is left of the current burst
    /// in proportion, so a change of rate never hands out a fresh burst to a flooder.
    mutating func reconfigure(burst newBurst: Int, ratePerSecond newRate: Double, now: Double) {
        refill(now)
        let fraction = tokens / burst
        burst = Double(max(1, newBurst))
        ratePerSecond = max(0.001, newRate)
        tokens = fraction * burst
    }
}
