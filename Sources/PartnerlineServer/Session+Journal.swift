import PartnerlineProtocol

/// Commands about the journal itself rather than its events.
extension Session {
    /// `HEAD <cluster>` → `OK HEAD cluster=<c> records=<n> hash=<64 hex>`.
    func head(_ request: Request, cluster: String) {
        guard let shard = resolveCluster(request, cluster) else { return }
        beginAsync()
        shard.head { [self] head in
            onQueue { [self] in
                finish(request.ok([("cluster", cluster), ("records", String(head.records)), ("hash", head.hashHex)]))
            }
        }
    }
}
