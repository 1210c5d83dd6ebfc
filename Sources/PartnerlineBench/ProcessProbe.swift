import Foundation
import PartnerlineTransport
#if canImport(Glibc)
import Glibc
#endif

/// What /proc says about a process: resident memory and CPU time. Linux only (the bench's
/// figures for the server, and for peers started by hand, come from here).
public struct ProcessProbe: Sendable {
    public let pid: Int32

    public init(pid: Int32) { self.pid = pid }

    /// VmRSS in KiB (0 if the process is gone).
    public func residentKiB() -> Int { statusField("VmRSS:") }
    /// Peak resident memory (VmHWM) in KiB.
    public func peakResidentKiB() -> Int { statusField("VmHWM:") }

    /// utime + stime in seconds.
    public func cpuSeconds() -> Double {
        guard let text = ProcFile.read("/proc/\(pid)/stat"),
              let close = text.lastIndex(of: ")") else { return 0 }
        // Fields after "(comm) ": state is field 3, utime field 14, stime field 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private func statusField(_ name: String) -> Int {
        guard let text = ProcFile.read("/proc/\(pid)/status") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
        return 0
    }

    /// CPU seconds this process (the load generator) has used.
    public static func selfCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

/// A clock for latencies: monotonic nanoseconds, comparable across threads of one process.
@inline(__always)
func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
