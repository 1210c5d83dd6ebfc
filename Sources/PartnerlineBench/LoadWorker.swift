import Foundation
import PartnerlineTransport
#if canImport(Glibc)
import Glibc
#endif

/// What the parent asks of a load worker process, one JSON object per line on the worker's stdin.
enum WorkerRequest: Codable, Sendable {
    /// Connect and set up these clients (the worker's share of the run).
    case setUp(WorkerJob)
    /// Let every client post per its role.
    case start
    /// Clear the counters and note the CPU: the measured window begins.
    case begin
    /// Report everything counted since `begin`.
    case end
    /// Stop posting (the clients stay connected until the worker exits).
    case stop
}

/// One worker's share of a run.
struct WorkerJob: Codable, Sendable {
    var host: String
    var port: Int
    var proto: BenchProtocol
    var joins: Bool
    var messageBytes: Int
    var queues: Int
    var maxInFlight: Int
    var timeoutSeconds: Double
    var members: [LoadFleet.Member]
}

/// A worker's answer to each request, one JSON object per line on its stdout.
struct WorkerReply: Codable, Sendable {
    var error: String?
    var totals: LoadTotals?
}

/// The worker side of a multi-process run (`partnerline-bench load-worker`, started by
/// `LoadWorkerPool`): a `LoadFleet` driven by requests on stdin, answered on stdout. It exits
/// when stdin ends, so a parent that dies or is killed takes its workers with it (the parent
/// holds the only write end of each worker's stdin).
public enum LoadWorker {
    /// Serves requests until stdin ends; returns the exit status.
    public static func serve() -> Int32 {
        TransportSetup.ignoreSIGPIPE()
        _ = TransportSetup.raiseOpenFileLimit()
        let input = LineChannel(fd: 0)
        var fleet: LoadFleet?
        let encoder = JSONEncoder()
        let decoder = JSONDecoder()
        func answer(_ reply: WorkerReply) -> Bool {
            guard var data = try? encoder.encode(reply) else { return false }
            data.append(10)
            return LineChannel.writeAll(fd: 1, data)
        }
        while let line = input.readLine(deadline: nil) {
            let request: WorkerRequest
            do {
                request = try decoder.decode(WorkerRequest.self, from: line)
            } catch {
                _ = answer(WorkerReply(error: "load worker: unreadable request: \(error)"))
                return 2
            }
            var reply = WorkerReply()
            do {
                switch request {
                case .setUp(let job):
                    let newFleet = try LoadFleet(queueCount: max(1, job.queues))
                    fleet = newFleet
                    try newFleet.connect(job.members, host: job.host, port: job.port, proto: job.proto, joins: job.joins,
                                         messageBytes: job.messageBytes, maxInFlight: job.maxInFlight,
                                         timeoutSeconds: job.timeoutSeconds)
                case .start:
                    try requireFleet(fleet).startSending()
                case .begin:
                    try requireFleet(fleet).beginWindow()
                case .end:
                    reply.totals = try requireFleet(fleet).endWindow()
                case .stop:
                    fleet?.stopSending()
                }
            } catch {
                reply.error = "\(error)"
            }
            guard answer(reply) else { break }
        }
        // stdin ended: the parent is done with us (or gone). Exit without waiting on the server.
        return 0
    }

    private static func requireFleet(_ fleet: LoadFleet?) throws -> LoadFleet {
        guard let fleet else { throw BenchError("load worker: no clients set up yet") }
        return fleet
    }
}

/// Newline-delimited messages over a pipe, read with a deadline (`poll`), so a worker that
/// hangs cannot hang the parent, and written whole.
final class LineChannel: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    /// The next line without its newline; nil at end of input or when `deadline` passes first
    /// (`timedOut` tells which).
    private(set) var timedOut = false

    func readLine(deadline: Date?) -> Data? {
        timedOut = false
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = Data(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            var waitMillis: Int32 = -1
            if let deadline {
                let left = deadline.timeIntervalSinceNow
                if left <= 0 { timedOut = true; return nil }
                waitMillis = Int32(min(left * 1000 + 1, 60_000))
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, waitMillis)
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 { return nil }
            if ready == 0 { continue }   // re-check the deadline
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if count <= 0 { return nil }   // end of input (the other side exited or closed)
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    /// Writes all of `data`; false if the other side is gone (EPIPE with SIGPIPE ignored).
    static func writeAll(fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return false }
                offset += written
            }
            return true
        }
    }
}
