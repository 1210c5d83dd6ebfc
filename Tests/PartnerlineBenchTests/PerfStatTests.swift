@testable import PartnerlineBench
import Testing

/// Reading `perf stat -x,` output into the article's groups, and the row's per-post columns (pure).
@Suite struct PerfStatTests {
    static let sample = """
        # started on Mon Dec  7 04:07:17 2026

        4500,,context-switches,45450798,100.00,,
        1000,,syscalls:sys_enter_write,49553181,100.00,,
        200,,syscalls:sys_enter_writev,49553181,100.00,,
        300,,syscalls:sys_enter_sendmsg,49553181,100.00,,
        700,,syscalls:sys_enter_read,49553181,100.00,,
        50,,syscalls:sys_enter_recvfrom,49553181,100.00,,
        80,,syscalls:sys_enter_epoll_wait,49553181,100.00,,
        20,,syscalls:sys_enter_epoll_pwait,49553181,100.00,,
        0,,syscalls:sys_enter_epoll_ctl,49553181,100.00,,
        <not counted>,,syscalls:sys_enter_ioctl,0,0.00,,
        60,,syscalls:sys_enter_futex,49553181,100.00,,
        10,,syscalls:sys_enter_fdatasync,49553181,100.00,,
        5,,syscalls:sys_enter_openat,49553181,100.00,,
        """

    @Test func countsAreGroupedLikeTheArticlesTable() {
        let counts = PerfStat.parse(Self.sample)
        #expect(counts.contextSwitches == 4500)
        #expect(counts.syscalls == 2425)
        let groups = Dictionary(uniqueKeysWithValues: counts.groups.map { ($0.name, $0.count) })
        #expect(groups["write"] == 1500)
        #expect(groups["read"] == 750)
        #expect(groups["epoll_wait"] == 100)
        #expect(groups["epoll_ctl"] == 0)
        #expect(groups["ioctl"] == 0)
        #expect(groups["futex"] == 60)
        #expect(groups["fdatasync"] == 10)
        #expect(counts.groups.map(\.name) == ["write", "read", "epoll_wait", "epoll_ctl", "ioctl", "futex", "fdatasync"])
    }

    @Test func perPostAndPerLineColumns() {
        var row = BenchRow(scenario: "fanout")
        PerfStat.report(PerfStat.parse(Self.sample), posts: 500, lines: 100_000, into: &row)
        #expect(row.metricValue("cs") == 4500)
        #expect(row.metricValue("cs/post") == 9)
        #expect(row.metricValue("write/post") == 3)
        #expect(row.metricValue("fdatasync/post") == 0.02)
        #expect(row.metricValue("cs/line") == 0.045)
        // A durable row delivers nothing: no per-line columns.
        var durable = BenchRow(scenario: "durable")
        PerfStat.report(PerfStat.parse(Self.sample), posts: 500, lines: 0, durableRow: true, into: &durable)
        #expect(durable.metricValue("cs/line") == nil)
        #expect(durable.metricValue("sys/post") == 4.85)
    }
}
