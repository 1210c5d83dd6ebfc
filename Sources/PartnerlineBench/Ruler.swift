/// Whether a row measured the server or the load generator.
///
/// The bench shares the machine's cores with the server under test. When the bench is the busier
/// of the two, the row's rates are the bench's ceiling rather than the server's, and a ratio between
/// two servers taken from such rows compares rulers, not servers (seen: `fanout -n 200 -k 10 -w 32
/// --protocol irc` used 90% of a core in the bench while InspIRCd used 49%). Every load row carries
/// both CPUs and this verdict, so such a row cannot be read as a server figure by mistake.
public enum Ruler {
    public enum Bound: String, Sendable {
        /// The server used at least as much CPU as the bench: the row measures the server.
        case server
        /// The bench used more CPU than the server: the row measures the load generator.
        case bench = "BENCH"
        /// The server's CPU is unknown (a `--target` without `--server-pid`).
        case unknown
    }

    /// `serverCPU` and `benchCPU` in % of one core over the same window.
    public static func bound(serverCPU: Double?, benchCPU: Double) -> Bound {
        guard let serverCPU else { return .unknown }
        return benchCPU > serverCPU ? .bench : .server
    }

    /// The note a row gets when its verdict is not `server`, nil otherwise.
    public static func note(serverCPU: Double?, benchCPU: Double) -> String? {
        switch bound(serverCPU: serverCPU, benchCPU: benchCPU) {
        case .server:
            return nil
        case .bench:
            return "bench-bound: the load generator used \(percent(benchCPU)) of a core, the server \(percent(serverCPU ?? 0)); "
                + "this row measures the bench, not the server (fewer senders, a smaller -w or a quieter machine)"
        case .unknown:
            return "server CPU unknown (give --server-pid with --target): cannot tell whether this row measures the server"
        }
    }

    private static func percent(_ value: Double) -> String {
        "\(Int(value.rounded()))%"
    }
}
