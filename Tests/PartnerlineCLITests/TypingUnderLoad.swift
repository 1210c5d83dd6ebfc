import Foundation
import PartnerlineTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Posts SAY lines at a steady rate over the plaintext port (a loopback test server), from its
/// own threads: one writes on a schedule, one reads and drops the replies.
final class FloodPoster: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var sent = 0

    init(port: Int, account: String, room: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let fd = self.fd
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw TestFailure("flood: cannot connect") }
        write("LOGIN \(account) correct-horse-battery\r\nJOIN \(room)\r\n")
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while read(fd, &buffer, buffer.count) > 0 {}
        }
    }

    private func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Posts `count` lines at `perSecond`, in 10 ms steps; blocks until done. Each line is
    /// `<prefix> <n>`.
    func post(room: String, count: Int, perSecond: Int, prefix: String) {
        let start = Date()
        var posted = 0
        while posted < count {
            let due = min(count, Int(Date().timeIntervalSince(start) * Double(perSecond)) + 1)
            var batch = ""
            while posted < due {
                posted += 1
                batch += "SAY \(room) :\(prefix) \(posted)\r\n"
            }
            if !batch.isEmpty { write(batch) }
            usleep(10_000)
        }
    }

    deinit { close(fd) }
}

/// CPU seconds (user + system) a process has used, from /proc/<pid>/stat.
func cpuSeconds(_ pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // After the command: state(0) ... utime(11) stime(12), in clock ticks.
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The client's pid: the child of the pane's shell.
func clientPID(_ tmux: TmuxSession) throws -> Int32 {
    let shell = Int32(try tmux.tmux(["display-message", "-p", "-t", "main", "#{pane_pid}"])
        .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
    return children.split(separator: " ").first.flatMap { Int32($0) } ?? 0
}

/// Types into the client while another member floods the room it shows; measures how long each
/// key takes to appear on the input line (capture-pane polled every 2 ms), and the client's CPU.
struct TypingProbe {
    let tmux: TmuxSession
    let rows: Int

    /// One key per `interval` for `duration` seconds; the latencies in milliseconds.
    func run(duration: Double, interval: Double = 0.25) throws -> [Double] {
        var latencies: [Double] = []
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        var typed = ""
        let end = Date().addingTimeInterval(duration)
        var i = 0
        while Date() < end {
            let letter = letters[i % letters.count]
            i += 1
            if typed.count > 40 {
                try tmux.press("C-u")
                typed = ""
                usleep(100_000)
            }
            typed.append(letter)
            let start = Date()
            try tmux.type(String(letter))
            let deadline = start.addingTimeInterval(5)
            while Date() < deadline {
                let screen = try tmux.screen()
                let input = screen.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(rows - 1).first ?? ""
                if input.hasSuffix(typed) { break }
                usleep(2_000)
            }
            latencies.append(Date().timeIntervalSince(start) * 1000)
            let rest = interval - Date().timeIntervalSince(start)
            if rest > 0 { usleep(useconds_t(rest * 1_000_000)) }
        }
        return latencies
    }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
}

@Suite(.serialized, .timeLimit(.minutes(10)), .enabled(if: TmuxSession.available))
struct TypingUnderLoadTests {
    /// Smoke: a burst of events into the shown window while typing; the typed text and the last
    /// event both arrive. (The measurement is the same scenario run long: see the next test.)
    @Test func typingKeepsUpWhileEventsFlood() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path, plain: true)
        _ = try server.client("lincoln-aid", register: true)
        _ = try server.client("boston-mind", register: true)
        let tmux = try TmuxSession(arguments: ["--server", server.address, "--user", "lincoln-aid",
                                               "--ca-file", server.certificatePath], home: dir.path)
        try tmux.waitFor("[Win: 1:server]")
        try tmux.type("/join rural-east-midlands/general", then: "Enter")
        try tmux.waitFor("2:general")
        let flood = try FloodPoster(port: server.plainPort!, account: "boston-mind", room: "rural-east-midlands/general")
        let poster = Thread { flood.post(room: "rural-east-midlands/general", count: 300, perSecond: 1000, prefix: "flood") }
        poster.start()
        try tmux.type("typed while it floods")
        try tmux.waitFor("<boston-mind> flood 300")
        try tmux.waitFor("[general] typed while it floods")
        server.stop()
    }

    /// The measurement (not run by `swift test`): PARTNERLINE_TYPING_BENCH=1 swift test --filter
    /// TypingUnderLoadTests/measure. Prints key-to-screen latency at rest and under 1,000 events/s
    /// into the shown window, the client's CPU, and how far behind the screen was at the end.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PARTNERLINE_TYPING_BENCH"] != nil))
    func measure() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["PARTNERLINE_TYPING_SECONDS"] ?? "") ?? 20
        let rate = Int(ProcessInfo.processInfo.environment["PARTNERLINE_TYPING_RATE"] ?? "") ?? 1000
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path, plain: true)
        _ = try server.client("lincoln-aid", register: true)
        _ = try server.client("boston-mind", register: true)
        let rows = 40
        let tmux = try TmuxSession(arguments: ["--server", server.address, "--user", "lincoln-aid",
                                               "--ca-file", server.certificatePath], home: dir.path, columns: 120, rows: rows)
        try tmux.waitFor("[Win: 1:server]")
        try tmux.type("/join rural-east-midlands/general", then: "Enter")
        try tmux.waitFor("2:general")
        let pid = try clientPID(tmux)
        let probe = TypingProbe(tmux: tmux, rows: rows)

        let idleCPU0 = cpuSeconds(pid)
        let idle = try probe.run(duration: 5)
        let idleCPU = cpuSeconds(pid) - idleCPU0

        let flood = try FloodPoster(port: server.plainPort!, account: "boston-mind", room: "rural-east-midlands/general")
        let total = Int(seconds * Double(rate))
        let poster = Thread { flood.post(room: "rural-east-midlands/general", count: total, perSecond: rate, prefix: "flood") }
        let cpu0 = cpuSeconds(pid)
        let start = Date()
        poster.start()
        let loaded = try probe.run(duration: seconds - 1)
        // How far the screen got: the highest flood number shown, once it stops moving (or all).
        var shown = 0
        var still = 0
        let settle = Date().addingTimeInterval(60)
        while Date() < settle && shown < total && still < 30 {
            let screen = try tmux.screen()
            let highest = screen.split(separator: "\n").compactMap { row -> Int? in
                guard let range = row.range(of: "flood ") else { return nil }
                return Int(row[range.upperBound...].prefix { $0.isNumber })
            }.max() ?? 0
            still = highest == shown ? still + 1 : 0
            shown = highest
            usleep(100_000)
        }
        let elapsed = Date().timeIntervalSince(start)
        let cpu = cpuSeconds(pid) - cpu0
        func line(_ name: String, _ values: [Double]) -> String {
            String(format: "%@: %d keys, p50 %.1f ms, p95 %.1f ms, max %.1f ms", name, values.count,
                   percentile(values, 0.5), percentile(values, 0.95), values.max() ?? 0)
        }
        print("TYPING " + line("at rest", idle) + String(format: "; client CPU %.0f%%", idleCPU / 5 * 100))
        print("TYPING " + line("\(rate) events/s into the shown window", loaded))
        print(String(format: "TYPING %d of %d events on screen after %.1f s (posting took %.1f s); client CPU %.2f s = %.0f%% of one core; load average %@",
                     shown, total, elapsed, seconds, cpu, cpu / elapsed * 100,
                     (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"))
        server.stop()
    }
}
