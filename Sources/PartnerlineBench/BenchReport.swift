import Foundation
import PartnerlineTransport
#if canImport(Glibc)
import Glibc
#endif

/// One measured run: what was run (parameters, in order) and what came out (metrics, in order).
public struct BenchRow: Codable, Sendable {
    public struct Value: Codable, Sendable {
        public var name: String
        public var value: String
    }

    public var scenario: String
    public var parameters: [Value] = []
    public var metrics: [Value] = []
    public var notes: [String] = []

    public init(scenario: String) { self.scenario = scenario }

    public mutating func parameter(_ name: String, _ value: CustomStringConvertible) {
        parameters.append(Value(name: name, value: value.description))
    }

    public mutating func metric(_ name: String, _ value: Double, decimals: Int = 1) {
        metrics.append(Value(name: name, value: String(format: "%.\(decimals)f", value)))
    }

    public mutating func metric(_ name: String, _ value: Int) {
        metrics.append(Value(name: name, value: String(value)))
    }

    /// A metric that is a word, not a number (e.g. which process bounded the row).
    public mutating func label(_ name: String, _ value: String) {
        metrics.append(Value(name: name, value: value))
    }

    public func metricText(_ name: String) -> String? {
        metrics.first { $0.name == name }?.value
    }

    public func metricValue(_ name: String) -> Double? {
        metrics.first { $0.name == name }.flatMap { Double($0.value) }
    }
}

/// All rows of one bench invocation, with the machine they ran on.
public struct BenchReport: Codable, Sendable {
    public var machine: String
    public var command: String
    public var rows: [BenchRow] = []

    public init(command: String) {
        self.command = command
        machine = BenchReport.describeMachine()
    }

    /// A plain-text table: one line per row, parameters then metrics.
    public func table() -> String {
        guard let first = rows.first else { return "(no rows)\n" }
        let header = first.parameters.map(\.name) + first.metrics.map(\.name)
        let lines = rows.map { row in row.parameters.map(\.value) + row.metrics.map(\.value) }
        var widths = header.map(\.count)
        for line in lines {
            for (index, cell) in line.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func format(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let width = index < widths.count ? widths[index] : cell.count
                return String(repeating: " ", count: max(0, width - cell.count)) + cell
            }.joined(separator: "  ")
        }
        var out = "# \(first.scenario) on \(machine)\n"
        out += format(header) + "\n"
        for line in lines { out += format(line) + "\n" }
        for row in rows { for note in row.notes { out += "note: \(note)\n" } }
        return out
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    static func describeMachine() -> String {
        var model = "unknown CPU"
        if let info = ProcFile.read("/proc/cpuinfo"),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            model = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(model), Linux \(release)"
    }
}
