import Dispatch
import Foundation
import PartnerlineTransport
import Synchronization

/// A set of load clients against one server: dialled with a bounded number of handshakes in
/// flight (so a burst of connects never overflows the listen backlog and turns into SYN retries),
/// then started together, stopped together and closed.
final class LoadFleet: @unchecked Sendable {
    struct Member: Codable, Sendable {
        var name: String
        var room: String
        var role: ClientRole
    }

    let queues: IOQueuePool
    let board = StatsBoard()
    let control = RunControl()
    private(set) var clients: [LoadClient] = []
    private var posters: [PacedPoster] = []
    private let tls: TLSClientContext
    /// This process's CPU seconds when the measured window began.
    fileprivate var windowCPUStart = 0.0

    init(queueCount: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        queues = IOQueuePool(count: queueCount)
        tls = try TLSClientContext(verifyPeer: false)
    }

    /// Connects and sets up every member; returns the seconds it took. Throws if any member
    /// fails or the whole set-up takes longer than `timeoutSeconds`.
    @discardableResult
    func connect(_ members: [Member], host: String, port: Int, proto: BenchProtocol, joins: Bool,
                 messageBytes: Int, maxInFlight: Int = 128, timeoutSeconds: Double) throws -> Double {
        let started = nowNanos()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        // Started at 0 and raised by signals: libdispatch traps when a semaphore is freed below
        // its start value, which an early throw here could otherwise cause.
        let slots = DispatchSemaphore(value: 0)
        for _ in 0..<maxInFlight { slots.signal() }
        let finished = DispatchSemaphore(value: 0)
        let failures = Atomic<Int>(0)
        for member in members {
            guard slots.wait(timeout: .now() + max(0, deadline.timeIntervalSinceNow)) == .success else {
                throw BenchError("set-up of \(members.count) clients did not finish within \(Int(timeoutSeconds)) s (\(clients.count) dialled)")
            }
            let connectStarted = nowNanos()
            let connection = try Connector.connect(host: host, port: port, tls: tls, queues: queues)
            let client = LoadClient(connection: connection, proto: proto, name: member.name, room: member.room,
                                    role: member.role, joins: joins, stats: board.stats(for: connection.queue),
                                    control: control, messageBytes: messageBytes, connectStarted: connectStarted) { ok in
                if !ok { failures.add(1, ordering: .relaxed) }
                slots.signal()
                finished.signal()
            }
            clients.append(client)
            connection.queue.async {
                connection.handler = client
                connection.start()
            }
        }
        for _ in members {
            guard finished.wait(timeout: .now() + max(0, deadline.timeIntervalSinceNow)) == .success else {
                throw BenchError("set-up of \(members.count) clients did not finish within \(Int(timeoutSeconds)) s")
            }
        }
        let failed = failures.load(ordering: .relaxed)
        if failed > 0 {
            let totals = board.totals()
            throw BenchError("\(failed) of \(members.count) clients failed to set up; first error: \(totals.firstError ?? "none")")
        }
        return Double(nowNanos() - started) / 1e9
    }

    /// Lets every client start posting per its role; paced clients post from one `PacedPoster`
    /// per queue.
    func startSending() {
        control.sending.store(true, ordering: .relaxed)
        var paced: [ObjectIdentifier: (queue: DispatchQueue, interval: UInt64, clients: [LoadClient])] = [:]
        for client in clients {
            if case .paced(let interval) = client.role {
                let queue = client.connection.queue
                paced[ObjectIdentifier(queue), default: (queue, interval, [])].clients.append(client)
                continue
            }
            client.connection.queue.async { client.start() }
        }
        posters = paced.values.map { PacedPoster(queue: $0.queue, intervalNanos: $0.interval, clients: $0.clients) }
        for poster in posters { poster.start(control: control) }
    }

    func stopSending() {
        control.sending.store(false, ordering: .relaxed)
    }

    /// Closes every connection and waits (briefly) for the queues to finish.
    func close() {
        for client in clients {
            client.connection.queue.async { client.connection.close(flush: false) }
        }
        queues.drainAll()
        clients.removeAll()
    }
}

/// The in-process load side: this process's own clients.
extension LoadFleet: LoadSide {
    var processCount: Int { 1 }

    func connect(_ members: [Member], server: ServerUnderTest, proto: BenchProtocol, joins: Bool, messageBytes: Int,
                 timeoutSeconds: Double) throws -> Double {
        try connect(members, host: server.host, port: server.port, proto: proto, joins: joins, messageBytes: messageBytes,
                    timeoutSeconds: timeoutSeconds)
    }

    func beginWindow() throws {
        board.reset()
        windowCPUStart = ProcessProbe.selfCPUSeconds()
    }

    func endWindow() throws -> LoadTotals {
        var totals = board.totals()
        totals.cpuSeconds = ProcessProbe.selfCPUSeconds() - windowCPUStart
        return totals
    }
}
