import Dispatch
import Foundation

/// One repeating timer per I/O queue that applies the timeouts of every session the queue owns
/// (handshake, LOGIN, idle PING, PING timeout), instead of a `DispatchSourceTimer` per session:
/// an idle connection then costs no timer of its own. A deadline is acted on at most one sweep
/// interval late (a tenth of the shortest timeout, between 50 ms and 1 s), which the timeouts'
/// scale (seconds to minutes) absorbs. The timer runs only while the queue has sessions.
final class SessionSweeper: @unchecked Sendable {
    let queue: DispatchQueue
    private let interval: Double
    /// Touched only on `queue`.
    private var sessions: [UInt64: Session] = [:]
    private var timer: DispatchSourceTimer?

    init(queue: DispatchQueue, interval: Double) {
        self.queue = queue
        self.interval = interval
    }

    /// The sweep interval for a set of timeouts.
    static func interval(for timeouts: SessionClock.Timeouts) -> Double {
        let shortest = min(timeouts.handshake, timeouts.registration, timeouts.idle, timeouts.pingTimeout)
        return min(1.0, max(0.05, shortest / 10))
    }

    /// On `queue`.
    func add(_ session: Session) {
        dispatchPrecondition(condition: .onQueue(queue))
        sessions[session.connection.id] = session
        if timer == nil { startTimer() }
    }

    /// On `queue`.
    func remove(_ session: Session) {
        dispatchPrecondition(condition: .onQueue(queue))
        sessions[session.connection.id] = nil
        if sessions.isEmpty {
            timer?.cancel()
            timer = nil
            // A dictionary keeps its capacity after removals; give it back once the queue is idle.
            sessions = [:]
        }
    }

    private func startTimer() {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let leeway = DispatchTimeInterval.milliseconds(Int(interval * 250))
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: leeway)
        timer.setEventHandler { @Sendable [weak self] in self?.sweep() }
        self.timer = timer
        timer.resume()
    }

    private func sweep() {
        let now = MonotonicClock.seconds()
        // A tick that ends a session removes it from `sessions`; the loop goes on over the
        // dictionary as it was (a value: only copied if it is changed meanwhile).
        for session in sessions.values { session.tick(now: now) }
    }
}

/// The sweepers of a service, one per I/O queue, made as queues are first seen.
final class SessionSweepers: Sendable {
    private let interval: Double
    private let byQueue = Locked<[ObjectIdentifier: SessionSweeper]>([:])

    init(timeouts: SessionClock.Timeouts) {
        interval = SessionSweeper.interval(for: timeouts)
    }

    func sweeper(for queue: DispatchQueue) -> SessionSweeper {
        byQueue.withLock { sweepers in
            if let sweeper = sweepers[ObjectIdentifier(queue)] { return sweeper }
            let sweeper = SessionSweeper(queue: queue, interval: interval)
            sweepers[ObjectIdentifier(queue)] = sweeper
            return sweeper
        }
    }
}
