import Foundation
import PartnerlineTransport
#if canImport(Glibc)
import Glibc
#endif

/// The load side spread over P worker processes (`--processes P`): the bench executable re-run
/// as `partnerline-bench load-worker`, each running its share of the clients (member i goes to
/// worker i mod P, so senders spread too) on its own I/O queues. This process only coordinates:
/// set-up, start, the window's begin and end, and the merge of every worker's `LoadTotals`
/// (counts add, histograms merge, CPU adds up, plus this process's own).
///
/// Every exchange has a deadline. A worker that exits or stops answering fails the row with a
/// message naming it; `close()` (also on deinit) ends every worker: stdin closed, then SIGKILL
/// for any still running a few seconds later. A worker also exits by itself when its stdin ends,
/// so a parent killed outright leaves no worker behind.
final class LoadWorkerPool: LoadSide, @unchecked Sendable {
    private struct Worker {
        let index: Int
        let process: Process
        /// The write end of the worker's stdin. Owned by its FileHandle (which closes the fd when
        /// it goes): close it only through the handle, never with close(2) on its number, or the
        /// handle closes the number a second time later, when it may belong to another file.
        let inputHandle: FileHandle
        var input: Int32 { inputHandle.fileDescriptor }
        let output: LineChannel
    }

    /// How long a worker may take to answer anything but the set-up.
    static let answerSeconds = 15.0

    private var workers: [Worker] = []
    private let queuesPerWorker: Int
    private var windowCPUStart = 0.0
    private let encoder = JSONEncoder()
    private let decoder = JSONDecoder()
    private var closed = false

    var processCount: Int { workers.count }

    /// Starts `count` workers from `binary` (the bench executable).
    init(count: Int, binary: String, queuesPerWorker: Int) throws {
        TransportSetup.ignoreSIGPIPE()   // a dead worker's stdin must not kill the parent
        self.queuesPerWorker = max(1, queuesPerWorker)
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("--processes needs the partnerline-bench executable for its workers; not found at \(binary)")
        }
        do {
            for index in 0..<count {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: binary)
                process.arguments = ["load-worker"]
                let stdin = Pipe()
                let stdout = Pipe()
                process.standardInput = stdin
                process.standardOutput = stdout
                process.standardError = FileHandle.standardError
                try process.run()
                workers.append(Worker(index: index, process: process, inputHandle: stdin.fileHandleForWriting,
                                      output: LineChannel(fd: stdout.fileHandleForReading.fileDescriptor)))
                // The pipe objects keep their fds open while the handles live; keep them with the worker.
                pipes.append((stdin, stdout))
            }
        } catch {
            close()
            throw BenchError("could not start load worker \(workers.count + 1) of \(count) (\(binary)): \(error)")
        }
    }

    private var pipes: [(Pipe, Pipe)] = []

    func connect(_ members: [LoadFleet.Member], server: ServerUnderTest, proto: BenchProtocol, joins: Bool,
                 messageBytes: Int, timeoutSeconds: Double) throws -> Double {
        let started = nowNanos()
        var shares = Array(repeating: [LoadFleet.Member](), count: workers.count)
        for (index, member) in members.enumerated() { shares[index % workers.count].append(member) }
        let inFlight = max(16, 128 / workers.count)
        for worker in workers {
            let job = WorkerJob(host: server.host, port: server.port, proto: proto, joins: joins,
                                messageBytes: messageBytes, queues: queuesPerWorker, maxInFlight: inFlight,
                                timeoutSeconds: timeoutSeconds, members: shares[worker.index])
            try send(.setUp(job), to: worker)
        }
        // The workers set up in parallel; each has the set-up deadline, the parent a little more.
        _ = try collect("set-up", seconds: timeoutSeconds + Self.answerSeconds)
        return Double(nowNanos() - started) / 1e9
    }

    func startSending() throws {
        try everyone(.start, "start")
    }

    func beginWindow() throws {
        windowCPUStart = ProcessProbe.selfCPUSeconds()
        try everyone(.begin, "begin")
    }

    func endWindow() throws -> LoadTotals {
        let replies = try everyone(.end, "end")
        var totals = LoadTotals.merged(replies.compactMap(\.totals))
        totals.cpuSeconds += ProcessProbe.selfCPUSeconds() - windowCPUStart
        return totals
    }

    func stopSending() {
        _ = try? everyone(.stop, "stop")
    }

    /// Ends every worker: stdin closed (it exits by itself), SIGKILL for any left after 5 s.
    func close() {
        guard !closed else { return }
        closed = true
        for worker in workers { try? worker.inputHandle.close() }
        let deadline = Date().addingTimeInterval(5)
        for worker in workers {
            while worker.process.isRunning && Date() < deadline { usleep(10_000) }
            if worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) }
            worker.process.waitUntilExit()
        }
    }

    deinit { close() }

    // MARK: exchanges

    @discardableResult
    private func everyone(_ request: WorkerRequest, _ name: String) throws -> [WorkerReply] {
        for worker in workers { try send(request, to: worker) }
        return try collect(name, seconds: Self.answerSeconds)
    }

    private func send(_ request: WorkerRequest, to worker: Worker) throws {
        var data = try encoder.encode(request)
        data.append(10)
        guard LineChannel.writeAll(fd: worker.input, data) else {
            throw failure(worker, "could not be sent '\(requestName(request))'")
        }
    }

    /// One reply from every worker, each within `seconds`; the first failure ends the row.
    private func collect(_ name: String, seconds: Double) throws -> [WorkerReply] {
        let deadline = Date().addingTimeInterval(seconds)
        var replies: [WorkerReply] = []
        for worker in workers {
            guard let line = worker.output.readLine(deadline: deadline) else {
                if worker.output.timedOut {
                    throw failure(worker, "did not answer '\(name)' within \(Int(seconds)) s (hung?)")
                }
                throw failure(worker, "exited before answering '\(name)'")
            }
            let reply: WorkerReply
            do {
                reply = try decoder.decode(WorkerReply.self, from: line)
            } catch {
                throw failure(worker, "answered '\(name)' with something unreadable: \(String(decoding: line.prefix(200), as: UTF8.self))")
            }
            if let error = reply.error { throw failure(worker, "failed '\(name)': \(error)") }
            replies.append(reply)
        }
        return replies
    }

    private func failure(_ worker: Worker, _ what: String) -> BenchError {
        var text = "load worker \(worker.index + 1) of \(workers.count) (pid \(worker.process.processIdentifier)) \(what)"
        usleep(50_000)
        if !worker.process.isRunning {
            let how = worker.process.terminationReason == .uncaughtSignal ? "signal" : "status"
            text += " [exited with \(how) \(worker.process.terminationStatus)]"
        }
        return BenchError(text)
    }

    private func requestName(_ request: WorkerRequest) -> String {
        switch request {
        case .setUp: return "set-up"
        case .start: return "start"
        case .begin: return "begin"
        case .end: return "end"
        case .stop: return "stop"
        }
    }

    /// The `partnerline-bench` executable: this one when the bench runs, else the one beside
    /// this executable or test bundle (as `swift build` lays them out).
    static func defaultBinary() -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0])
        if me.lastPathComponent == "partnerline-bench",
           let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return path
        }
        var dir = me.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("partnerline-bench").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return ".build/release/partnerline-bench"
    }
}
