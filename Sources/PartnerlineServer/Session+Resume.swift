import Foundation
import PartnerlineCore
import PartnerlineProtocol

/// Protocol 1.1 for clients that come back: resume on LOGIN (`* JOINED` per member room, then
/// `OK LOGIN ... rooms=<n>`), read markers (MARK, and READ to the account's other connections),
/// and every logged-in connection of a member attached to its rooms.
extension Session {
    /// After a successful LOGIN: attaches this connection to every room the account is a member of
    /// (each shard reads the room's last seq in the same step, so no event falls between `last=` and
    /// the first live line), then answers `* JOINED <room> last=<seq> read=<seq>` per room and
    /// `OK LOGIN <okFields> rooms=<n>`. Live lines that arrive meanwhile are held and follow the OK.
    func resume(_ request: Request, okFields: [(String, String)]) {
        heldDuringResume = []
        let shards = service.shards
        let collector = ResumeCollector(count: shards.count) { [self] perShard in
            onQueue { [self] in resumeFinished(request, okFields: okFields, perShard.flatMap { $0 }, shards: shards) }
        }
        for (index, shard) in shards.enumerated() {
            shard.resume(self) { collector.set(index, $0) }
        }
    }

    /// Keeps live lines back until `OK LOGIN` is out; more than the outbound bound of them is a
    /// slow consumer, as unread output would be.
    func hold(_ lines: [[UInt8]]) {
        for line in lines { heldDuringResumeBytes += line.count }
        guard heldDuringResumeBytes <= connection.maxOutboundBytes - 1024 else {
            heldDuringResume = nil
            return cutOffSlowConsumer()
        }
        heldDuringResume?.append(contentsOf: lines)
    }

    private func resumeFinished(_ request: Request, okFields: [(String, String)], _ rooms: [ResumedRoom], shards: [ClusterShard]) {
        let held = heldDuringResume ?? []
        heldDuringResume = nil
        heldDuringResumeBytes = 0
        if closing {
            // Closed while the shards attached it: detach again (connectionClosed only knew `joined`).
            for shard in shards { shard.unsubscribe(self, from: rooms.map(\.room).filter { $0.cluster == shard.name }) }
            return
        }
        var reply: [UInt8] = []
        for resumed in rooms {
            didJoin(resumed.room)
            reply += request.data("JOINED", [resumed.room.description],
                                  [("last", String(resumed.last)), ("read", String(resumed.read))])
        }
        reply += request.ok(okFields + [("rooms", String(rooms.count))])
        // The lines held back follow the OK (they are all newer than the `last=` given).
        for line in held { reply += line }
        finish(reply)
    }

    /// `MARK <room> <seq>`: moves the account's read marker forward (stored in the cluster's journal
    /// before the reply), answers `OK MARK room=<room> read=<marker now>`, and if it moved, sends
    /// `READ <room> <seq>` to the account's other logged-in connections.
    func mark(_ request: Request, _ room: RoomName, seq: UInt64) {
        guard let shard = resolveRoom(request, room), let account else { return }
        let name = account.name
        beginAsync()
        shard.mark(room: room, account: name, seq: seq) { [self] result in
            onQueue { [self] in
                switch result {
                case .success(let marker):
                    if marker.moved {
                        let line = ServerLine.read(room: room.description, seq: marker.read)
                        for other in service.online.sessions(of: [name], excluding: [subscriberID]) {
                            other.deliveryQueue.async { other.deliverOnQueue([line]) }
                        }
                    }
                    finish(request.ok([("room", room.description), ("read", String(marker.read))]))
                case .failure(let error):
                    finish(request.err(error))
                }
            }
        }
    }

    // MARK: EventSubscriber: the account's other connections joined or parted

    func attached(to room: RoomName, shard: ClusterShard) {
        onQueue { [self] in
            if closing { shard.unsubscribe(self, from: [room]) } else { didJoin(room) }
        }
    }

    func detached(from room: RoomName) {
        onQueue { [self] in didPart(room) }
    }
}

/// Gathers each shard's resumed rooms, which arrive on different queues, in shard order.
private final class ResumeCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [[ResumedRoom]]
    private var remaining: Int
    private let reply: @Sendable ([[ResumedRoom]]) -> Void

    init(count: Int, reply: @escaping @Sendable ([[ResumedRoom]]) -> Void) {
        results = Array(repeating: [], count: count)
        remaining = count
        self.reply = reply
        if count == 0 { reply([]) }
    }

    func set(_ index: Int, _ rooms: [ResumedRoom]) {
        lock.lock()
        results[index] = rooms
        remaining -= 1
        let done = remaining == 0
        lock.unlock()
        if done { reply(results) }
    }
}
