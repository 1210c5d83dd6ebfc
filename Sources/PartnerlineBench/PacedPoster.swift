import Dispatch

/// Fixed-rate posting for every paced client of one I/O queue from ONE timer, instead of a
/// `DispatchSourceTimer` per client: with 1,000 clients at 5 posts/s that is 2 timer sources
/// firing 1,000 times a second in all, not 5,000 separate timer events through libdispatch's
/// manager thread, which made the load generator, not the server, the busiest process.
///
/// All paced clients of a run share one interval; client i posts at `phase_i + k * interval`.
/// The clients are kept sorted by phase and a cursor walks them round and round, so each tick
/// costs only the posts that are due. Confined to `queue` (the clients' own queue).
final class PacedPoster: @unchecked Sendable {
    static let tickNanos: UInt64 = 1_000_000

    private let queue: DispatchQueue
    private let interval: UInt64
    private let clients: [(phase: UInt64, client: LoadClient)]
    private var cursor = 0
    private var cycleStart: UInt64 = 0
    private var timer: DispatchSourceTimer?

    /// `clients` all live on `queue`; each gets a random phase within the interval.
    init(queue: DispatchQueue, intervalNanos: UInt64, clients: [LoadClient]) {
        self.queue = queue
        interval = max(1, intervalNanos)
        var random = SystemRandomNumberGenerator()
        self.clients = clients.map { (UInt64.random(in: 0..<max(1, intervalNanos), using: &random), $0) }
            .sorted { $0.0 < $1.0 }
    }

    /// Starts ticking (call from any thread); stops by itself once `control.sending` is false.
    func start(control: RunControl) {
        queue.async { [self] in
            guard !clients.isEmpty else { return }
            cycleStart = nowNanos()
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.schedule(deadline: .now(), repeating: .nanoseconds(Int(Self.tickNanos)), leeway: .nanoseconds(0))
            timer.setEventHandler { @Sendable [weak self] in
                guard let self else { return }
                if control.sending.load(ordering: .relaxed) { self.postDue() } else { self.stop() }
            }
            self.timer = timer
            timer.resume()
        }
    }

    private func stop() {
        timer?.cancel()
        timer = nil
    }

    /// Posts for every client whose time has come, at most one round of all clients per tick
    /// (a late tick catches up, but never loops without end).
    private func postDue() {
        let now = nowNanos()
        for _ in 0..<clients.count {
            let next = clients[cursor]
            guard cycleStart + next.phase <= now else { return }
            next.client.postPaced()
            cursor += 1
            if cursor == clients.count {
                cursor = 0
                cycleStart += interval
            }
        }
    }
}
