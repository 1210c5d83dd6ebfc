import PartnerlineCore

extension ClusterShard {
    struct Head: Sendable {
        var records: Int
        var hashHex: String
    }

    /// The journal's durable record count and head hash, for a member of the cluster (an account
    /// in any of its rooms) or an admin: the receipt an organisation keeps to check later that
    /// history was not rewritten (`verify` prints the same pair for the journal's end).
    func head(for account: Account, reply: @escaping @Sendable (Result<Head, DomainError>) -> Void) {
        queue.async { [self] in
            let isMember = state.orderedRooms.contains { $0.members.contains(account.name) }
            guard isMember || account.role == .admin else {
                return reply(.failure(DomainError(.forbidden, "HEAD \(name) is for its members: JOIN one of its rooms first")))
            }
            let head = journal.durableHead
            reply(.success(Head(records: head.records, hashHex: head.hashHex)))
        }
    }
}
