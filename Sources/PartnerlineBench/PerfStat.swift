import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// System calls and context switches of the server over exactly the measured window:
/// `perf stat -x, -e context-switches,'syscalls:sys_enter_*' -p <pid>`, started disabled before
/// the warm-up (attaching ~360 tracepoints takes a second or two) and switched on and off through
/// perf's control FIFO (`--control fifo:ctl,ack`, each command acknowledged), so the counts cover
/// the same window as the row's rates.
final class PerfStat: @unchecked Sendable {
    /// The counts of one window, grouped like the Performance article's table.
    struct Counts: Equatable, Sendable {
        var contextSwitches: UInt64 = 0
        var syscalls: UInt64 = 0
        var groups: [(name: String, count: UInt64)] = []

        static func == (lhs: Counts, rhs: Counts) -> Bool {
            lhs.contextSwitches == rhs.contextSwitches && lhs.syscalls == rhs.syscalls
                && lhs.groups.map(\.name) == rhs.groups.map(\.name) && lhs.groups.map(\.count) == rhs.groups.map(\.count)
        }
    }

    /// Which system calls each reported group counts (`sys_enter_<name>`), in table order.
    static let groups: [(name: String, calls: [String])] = [
        ("write", ["write", "writev", "sendmsg", "sendto", "sendmmsg", "pwrite64", "pwritev"]),
        ("read", ["read", "readv", "recvfrom", "recvmsg", "recvmmsg", "pread64", "preadv"]),
        ("epoll_wait", ["epoll_wait", "epoll_pwait", "epoll_pwait2"]),
        ("epoll_ctl", ["epoll_ctl"]),
        ("ioctl", ["ioctl"]),
        ("futex", ["futex", "futex_waitv"]),
        ("fdatasync", ["fdatasync", "fsync"]),
    ]

    private let process: Process
    private let directory: String
    private let ackFD: Int32
    private var controlFD: Int32 = -1
    private var finished = false

    /// Where perf is, or nil (with the reason the row's note gives).
    static func locate() -> String? {
        for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin"] {
            let path = dir + "/perf"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Attaches perf (disabled) to `pid`. Throws with perf's own words if it cannot.
    init(pid: Int32, perf: String, timeoutSeconds: Double = 20) throws {
        directory = NSTemporaryDirectory() + "/partnerline-perf-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let control = directory + "/ctl", ack = directory + "/ack"
        guard mkfifo(control, 0o600) == 0, mkfifo(ack, 0o600) == 0 else {
            throw BenchError("--perf-stat: cannot make FIFOs in \(directory)")
        }
        // Our read end first, non-blocking, so perf's open of the ack FIFO does not wait for us.
        ackFD = open(ack, O_RDONLY | O_NONBLOCK)
        process = Process()
        process.executableURL = URL(fileURLWithPath: perf)
        process.arguments = ["stat", "-x,", "-e", "context-switches,syscalls:sys_enter_*", "-p", String(pid),
                             "-D", "-1", "--control", "fifo:\(control),\(ack)", "-o", directory + "/out.csv"]
        process.standardOutput = FileHandle.nullDevice
        let errors = directory + "/err.txt"
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: errors)
        try process.run()
        // The control FIFO opens for writing once perf has it open for reading (ENXIO before).
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while controlFD < 0 {
            controlFD = open(control, O_WRONLY | O_NONBLOCK)
            if controlFD >= 0 { break }
            guard process.isRunning, Date() < deadline else {
                let said = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
                cleanUp()
                throw BenchError("--perf-stat: perf did not start: \(said.trimmingCharacters(in: .whitespacesAndNewlines).suffix(400))")
            }
            usleep(20_000)
        }
    }

    func enable() throws { try command("enable") }
    func disable() throws { try command("disable") }

    /// Sends one control command and waits for perf's "ack" (perf answers only once it has set up
    /// every counter, so the first ack also means it is attached).
    private func command(_ word: String, timeoutSeconds: Double = 30) throws {
        let line = Array((word + "\n").utf8)
        guard write(controlFD, line, line.count) == line.count else { throw BenchError("--perf-stat: perf's control FIFO closed") }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var received: [UInt8] = []
        while Date() < deadline {
            var poller = pollfd(fd: ackFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, 50)
            var chunk = [UInt8](repeating: 0, count: 64)
            let count = read(ackFD, &chunk, chunk.count)
            if count > 0 {
                received += chunk[..<count]
                if String(decoding: received, as: UTF8.self).contains("ack") { return }
            } else if !process.isRunning {
                break
            } else if count == 0 {
                usleep(10_000)   // no writer yet: poll reports hang-up until perf opens its end
            }
        }
        throw BenchError("--perf-stat: perf did not acknowledge '\(word)' within \(Int(timeoutSeconds)) s")
    }

    /// Stops perf (SIGINT: it writes its counts) and reads them.
    func finish() throws -> Counts {
        guard !finished else { throw BenchError("--perf-stat: already finished") }
        // Let perf settle back into its wait after the last acknowledgement: a SIGINT right on
        // its heels sometimes ended perf without its counts (seen about one run in three).
        usleep(200_000)
        if process.isRunning { kill(process.processIdentifier, SIGINT) }
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        defer { cleanUp() }
        guard let text = try? String(contentsOfFile: directory + "/out.csv", encoding: .utf8) else {
            throw BenchError("--perf-stat: perf wrote no counts")
        }
        let counts = Self.parse(text)
        // A running server always switches and calls something in a window: all zeros means the
        // counters never ran, which must not pass for a figure.
        guard counts.contextSwitches > 0 || counts.syscalls > 0 else {
            let said = (try? String(contentsOfFile: directory + "/err.txt", encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.prefix(3).joined(separator: " | ")
            throw BenchError("--perf-stat: perf counted nothing (\(lines); \(said.suffix(300)))")
        }
        return counts
    }

    /// Ends perf without reading (a failed row).
    func cancel() {
        if !finished, process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        cleanUp()
    }

    deinit { cancel() }

    private func cleanUp() {
        guard !finished else { return }
        finished = true
        if controlFD >= 0 { close(controlFD) }
        if ackFD >= 0 { close(ackFD) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// perf's `-x,` output: `count,unit,event,...` per line; `<not counted>` counts as 0.
    static func parse(_ text: String) -> Counts {
        var byCall: [String: UInt64] = [:]
        var counts = Counts()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count >= 3 else { continue }
            let value = UInt64(fields[0].trimmingCharacters(in: .whitespaces)) ?? 0
            let event = fields[2]
            if event == "context-switches" || event == "cs" {
                counts.contextSwitches = value
            } else if event.hasPrefix("syscalls:sys_enter_") {
                byCall[String(event.dropFirst("syscalls:sys_enter_".count)), default: 0] += value
                counts.syscalls += value
            }
        }
        counts.groups = groups.map { group in (group.name, group.calls.reduce(0) { $0 + (byCall[$1] ?? 0) }) }
        return counts
    }

    /// The row's perf columns: totals over the window, then each per post and per delivered line
    /// (every column always there, 0 when nothing was counted, so rows of a table line up).
    static func report(_ counts: Counts, posts: UInt64, lines: UInt64, durableRow: Bool = false, into row: inout BenchRow) {
        row.metric("cs", Int(counts.contextSwitches))
        row.metric("syscalls", Int(counts.syscalls))
        let perPost = Double(max(posts, 1))
        row.metric("cs/post", Double(counts.contextSwitches) / perPost, decimals: 2)
        row.metric("sys/post", Double(counts.syscalls) / perPost, decimals: 2)
        for group in counts.groups { row.metric("\(group.name)/post", Double(group.count) / perPost, decimals: 2) }
        guard !durableRow else { return }
        let perLine = Double(max(lines, 1))
        row.metric("cs/line", Double(counts.contextSwitches) / perLine, decimals: 4)
        row.metric("sys/line", Double(counts.syscalls) / perLine, decimals: 3)
    }
}
