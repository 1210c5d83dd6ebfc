import PartnerlineCore

extension ClusterShard {
    struct Head: Sendable {
        var records: Int
        var hashHex: String
    }

    /// The journal's durable record count and head hash: the receipt an organisation keeps to check
    /// later that history was not rewritten (`verify` prints the same pair for the journal's end).
    /// For the cluster's members (the permission gate checks that, as for every command).
    func head(reply: @escaping @Sendable (Head) -> Void) {
        queue.async { [self] in
            let head = journal.durableHead
            reply(Head(records: head.records, hashHex: head.hashHex))
        }
    }
}
