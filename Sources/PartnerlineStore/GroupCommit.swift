/// The rules of group commit, in one place, for whoever batches a journal's records: the cluster
/// shard for its cluster's journal (its queued writes are the batch), and the journal's own appender
/// queue for a journal appended to with `Journal.append` (the accounts journal). Pure: no clock, no
/// I/O; the batcher asks and acts.
///
/// Each fsync policy is one branch (Redis's `flushAppendOnlyFile` has the same shape: write the
/// whole buffer once, then one `if` per policy for the sync):
/// - `always`: every write round is written and fsynced at once; a batch never waits for company
///   (records that arrive during an fsync still share the next one).
/// - `batch`: the same write and fsync, and a batch that is not yet full may first wait up to
///   `windowMicros` after its first record for more to join it.
/// - `os`: written, never fsynced by us, so there is no fsync to share and nothing to wait for.
public struct GroupCommit: Sendable, Equatable {
    public var policy: FsyncPolicy
    /// `batch` only: how long a batch waits after its first record for more (0: no waiting).
    public var windowMicros: Int
    /// Most records in one write (+ fsync). A single group larger than this is still written whole.
    public var maxRecords: Int

    public init(policy: FsyncPolicy, windowMicros: Int, maxRecords: Int) {
        self.policy = policy
        self.windowMicros = max(0, windowMicros)
        self.maxRecords = max(1, maxRecords)
    }

    public init(_ options: JournalOptions) {
        self.init(policy: options.policy, windowMicros: options.batchWindowMicros, maxRecords: options.maxBatchRecords)
    }

    /// How long a batch holding `records` so far waits for more before it is written.
    public func waitMicros(holding records: Int) -> Int {
        switch policy {
        case .always:
            return 0
        case .batch:
            return records < maxRecords ? windowMicros : 0
        case .os:
            return 0
        }
    }

    /// Whether a write is followed by an fdatasync before anyone is answered.
    public var syncsEachWrite: Bool {
        switch policy {
        case .always, .batch: true
        case .os: false
        }
    }

    /// How many of `groups` (records per group, in order) go into the next write: whole groups
    /// only, as many as fit in `maxRecords`, and at least the first (so a group larger than the
    /// limit is written whole, alone).
    public func groupsInNextWrite(_ groups: some Sequence<Int>) -> Int {
        var records = 0
        var taken = 0
        for size in groups {
            if taken > 0 && records + size > maxRecords { break }
            records += size
            taken += 1
        }
        return taken
    }
}
