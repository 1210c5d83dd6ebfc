import Dispatch

/// The EV lines of one group-committed batch, grouped so that each I/O queue gets ONE block
/// per batch carrying every line for every subscriber it owns, instead of one closure per
/// subscriber per event. Lines are encoded once and shared (arrays are not copied).
///
/// Ordering: within a room, lines keep seq order. A stored post's OK rides in the block for the
/// poster's queue, after every line of the block (`add(reply:on:)`). Anything else that must come
/// after the lines (a joiner's OK JOIN, an item command's reply) is issued by the shard only after
/// `flush()`, and goes to the same serial I/O queue, so it runs after the block.
struct FanoutOutbox {
    private var roomOrder: [String] = []
    private var linesByRoom: [String: [[UInt8]]] = [:]
    /// Lines for one subscriber outside the room (a MATCH to an organisation's other sessions, a
    /// watched tag): the same one path, so the same slow-consumer bound applies.
    private var direct: [(any EventSubscriber, [UInt8])] = []
    /// Replies to run on an I/O queue after that queue's lines (a stored post's OK).
    private var replies: [(DispatchQueue, @Sendable () -> Void)] = []

    var isEmpty: Bool { roomOrder.isEmpty && direct.isEmpty && replies.isEmpty }

    mutating func add(room: String, line: [UInt8]) {
        if linesByRoom[room] == nil {
            roomOrder.append(room)
            linesByRoom[room] = [line]
        } else {
            linesByRoom[room]!.append(line)
        }
    }

    mutating func add(subscriber: any EventSubscriber, line: [UInt8]) {
        direct.append((subscriber, line))
    }

    /// Runs `reply` on `queue` in this batch's block for that queue, after all its lines, so a
    /// poster gets its EV before its OK without a hop of its own.
    mutating func add(reply: @escaping @Sendable () -> Void, on queue: DispatchQueue) {
        replies.append((queue, reply))
    }

    /// Hands the lines to every subscriber of their room (and the direct lines to theirs), one
    /// async block per I/O queue.
    mutating func flush(subscribers: [String: [UInt64: any EventSubscriber]]) {
        guard !isEmpty else { return }
        var perQueue: [ObjectIdentifier: QueueBlock] = [:]
        for room in roomOrder {
            guard let lines = linesByRoom[room], let members = subscribers[room] else { continue }
            for subscriber in members.values {
                let queue = subscriber.deliveryQueue
                perQueue[ObjectIdentifier(queue), default: QueueBlock(queue: queue)].deliveries.append((subscriber, lines))
            }
        }
        for (subscriber, line) in direct {
            let queue = subscriber.deliveryQueue
            perQueue[ObjectIdentifier(queue), default: QueueBlock(queue: queue)].deliveries.append((subscriber, [line]))
        }
        for (queue, reply) in replies {
            perQueue[ObjectIdentifier(queue), default: QueueBlock(queue: queue)].replies.append(reply)
        }
        // Blocks that carry replies go last: a poster's OK must not be out before every other member's
        // lines are queued (a member told of the OK at once, e.g. by the poster, then sees them first).
        for entry in perQueue.values.sorted(by: { $0.replies.isEmpty && !$1.replies.isEmpty }) {
            let deliveries = entry.deliveries
            let replies = entry.replies
            entry.queue.async {
                for (subscriber, lines) in deliveries { subscriber.deliverOnQueue(lines) }
                for reply in replies { reply() }
            }
        }
        roomOrder.removeAll(keepingCapacity: true)
        linesByRoom.removeAll(keepingCapacity: true)
        direct.removeAll(keepingCapacity: true)
        replies.removeAll(keepingCapacity: true)
    }

    /// What one I/O queue gets from one flush: lines per subscriber, then replies.
    private struct QueueBlock {
        let queue: DispatchQueue
        var deliveries: [(any EventSubscriber, [[UInt8]])] = []
        var replies: [@Sendable () -> Void] = []
    }
}
