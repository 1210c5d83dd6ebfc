import Foundation
import PartnerlineCore

/// Server-wide item ids and where each item lives. Ids are given out from one counter per kind,
/// seeded from the highest number found in every cluster's journal, so they are stable forever;
/// an id whose write then failed is simply never used (ids may have gaps, seqs may not).
/// Safe from any queue (a lock around two small dictionaries, held for a look-up or an increment).
final class ItemIndex: @unchecked Sendable {
    private let lock = NSLock()
    private var highest: [ItemKind: UInt64] = [:]
    private var clusters: [ItemID: String] = [:]

    /// Records every item of a replayed cluster.
    func seed(cluster: String, book: ItemBook) {
        lock.lock()
        defer { lock.unlock() }
        for (kind, number) in book.highestNumber { highest[kind] = max(highest[kind] ?? 0, number) }
        for id in book.items.keys { clusters[id] = cluster }
    }

    /// A new id of `kind` for an item about to be written in `cluster`.
    func allocate(_ kind: ItemKind, in cluster: String) -> ItemID {
        lock.lock()
        defer { lock.unlock() }
        let number = (highest[kind] ?? 0) + 1
        highest[kind] = number
        let id = ItemID(kind: kind, number: number)
        clusters[id] = cluster
        return id
    }

    /// The cluster whose shard holds `id` (or was about to: the shard answers NO_SUCH_ITEM if the write failed).
    func cluster(of id: ItemID) -> String? {
        lock.lock()
        defer { lock.unlock() }
        return clusters[id]
    }
}

/// Logged-in sessions by account, and the tags each one watches: how a MATCH reaches an
/// organisation that is online but not in the room, and how WATCH reaches every room of a cluster.
/// Called from session queues (login, watch, close) and shard queues (delivery).
final class OnlineDirectory: @unchecked Sendable {
    private struct Entry {
        var subscriber: any EventSubscriber
        var watched: Set<String>
    }

    private let lock = NSLock()
    private var entries: [UInt64: Entry] = [:]

    func add(_ subscriber: any EventSubscriber) {
        lock.lock()
        entries[subscriber.subscriberID] = Entry(subscriber: subscriber, watched: [])
        lock.unlock()
    }

    func remove(_ subscriber: any EventSubscriber) {
        lock.lock()
        entries[subscriber.subscriberID] = nil
        lock.unlock()
    }

    /// Adds (or with `watch: false` removes) tags; returns the session's watched tags afterwards.
    func watch(_ subscriber: any EventSubscriber, tags: [String], watch: Bool) -> Set<String> {
        lock.lock()
        defer { lock.unlock() }
        guard var entry = entries[subscriber.subscriberID] else { return [] }
        if watch { entry.watched.formUnion(tags) } else { entry.watched.subtract(tags) }
        entries[subscriber.subscriberID] = entry
        return entry.watched
    }

    /// Online sessions of `accounts`, other than those in `excluding` (already got the line as room subscribers).
    func sessions(of accounts: Set<String>, excluding: Set<UInt64>) -> [any EventSubscriber] {
        lock.lock()
        defer { lock.unlock() }
        return entries.values.filter { !excluding.contains($0.subscriber.subscriberID) && accounts.contains($0.subscriber.accountName) }
            .map(\.subscriber)
    }

    /// Online sessions watching a tag among `terms`, other than `excluding`, whose account `isMember` says belongs to the cluster.
    func watchers(of terms: Matching.Terms, excluding: Set<UInt64>, isMember: (String) -> Bool) -> [any EventSubscriber] {
        lock.lock()
        let candidates = entries.values.filter {
            !$0.watched.isEmpty && !excluding.contains($0.subscriber.subscriberID)
                && Matching.watches(Set($0.watched.map(Matching.stem)), terms)
        }.map(\.subscriber)
        lock.unlock()
        return candidates.filter { isMember($0.accountName) }
    }
}
