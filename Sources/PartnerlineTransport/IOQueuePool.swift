import Dispatch
import Foundation

/// One serial I/O queue plus the single 16 KiB read buffer shared by every connection
/// that the queue owns (idle connections then cost no read buffer of their own).
final class IOSlot: @unchecked Sendable {
    static let readBufferSize = 16 * 1024

    let queue: DispatchQueue
    /// Touched only on `queue`, and only for the duration of one read + delivery.
    let readBuffer: UnsafeMutableRawPointer

    /// Connections with output to write at the end of this queue turn (touched only on `queue`):
    /// one block flushes them all, instead of one block per connection. A fan-out batch that
    /// hands lines to 200 connections costs one enqueue, not 200.
    private var flushList: [Connection] = []
    private var spareFlushList: [Connection] = []
    private var flushDrainScheduled = false

    init(queue: DispatchQueue) {
        self.queue = queue
        self.readBuffer = UnsafeMutableRawPointer.allocate(byteCount: IOSlot.readBufferSize, alignment: 16)
    }

    /// Runs `connection.flushFromSlot()` once the current block on `queue` has finished (so
    /// everything sent in this turn goes out in one write). On `queue`.
    func requestFlush(_ connection: Connection) {
        flushList.append(connection)
        guard !flushDrainScheduled else { return }
        flushDrainScheduled = true
        queue.async { @Sendable [self] in drainFlushes() }
    }

    private func drainFlushes() {
        flushDrainScheduled = false
        // Swap the two lists, so a flush that asks again (it cannot, but a handler might send)
        // lands in the next drain, and neither list reallocates in steady state.
        swap(&flushList, &spareFlushList)
        for connection in spareFlushList { connection.flushFromSlot() }
        spareFlushList.removeAll(keepingCapacity: spareFlushList.count <= 4096)
    }

    deinit {
        readBuffer.deallocate()
    }
}

/// A fixed set of serial I/O queues (one per core by default); each connection is owned
/// by one of them for life.
public final class IOQueuePool: Sendable {
    let slots: [IOSlot]
    private let counter = Locked<Int>(0)

    public init(count: Int = ProcessInfo.processInfo.activeProcessorCount) {
        let n = max(1, count)
        slots = (0..<n).map { index in
            IOSlot(queue: DispatchQueue(label: "partnerline.io.\(index)", qos: .userInitiated))
        }
    }

    /// Round-robin.
    public func next() -> DispatchQueue {
        nextSlot().queue
    }

    func nextSlot() -> IOSlot {
        let index = counter.withLock { value -> Int in
            let current = value
            value = (value + 1) % slots.count
            return current
        }
        return slots[index]
    }
}
