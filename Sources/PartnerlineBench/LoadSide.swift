/// Where a run's load clients live: in this process (`LoadFleet`) or spread over worker
/// processes (`LoadWorkerPool`). A measured run drives either the same way: connect and set up
/// every client, start sending, warm up, then one measured window whose totals (counts,
/// histograms and the load side's CPU) come back as one `LoadTotals`.
protocol LoadSide: AnyObject {
    /// Processes the clients run in (1: this one).
    var processCount: Int { get }
    /// Connects and sets up every member; returns the seconds it took.
    @discardableResult
    func connect(_ members: [LoadFleet.Member], server: ServerUnderTest, proto: BenchProtocol, joins: Bool,
                 messageBytes: Int, timeoutSeconds: Double) throws -> Double
    func startSending() throws
    /// Clears the counters and starts counting the load side's CPU.
    func beginWindow() throws
    /// Everything counted since `beginWindow`, merged; `cpuSeconds` is the whole load side's.
    func endWindow() throws -> LoadTotals
    func stopSending()
    func close()
}
