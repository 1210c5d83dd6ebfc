import PartnerlineProtocol

/// Commands about the journal itself rather than its events.
extension Session {
    /// `HEAD <cluster>` → `OK HEAD cluster=<c> records=<n> hash=<64 hex>`.
    func head(_ request: Request, cluster: String) {
        guard let shard = service.shard(cluster), let account else {
            return send(request.err(.noSuchCluster, "no cluster \(cluster); CLUSTERS lists them"))
        }
        beginAsync()
        shard.head(for: account) { [self] result in
            onQueue { [self] in
                switch result {
                case .success(let head):
                    finish(request.ok([("cluster", cluster), ("records", String(head.records)), ("hash", head.hashHex)]))
                case .failure(let error):
                    finish(request.err(error))
                }
            }
        }
    }
}
