/// The table behind one I/O slot's epoll set: which connection an epoll event belongs to.
///
/// Each registered member gets a token (its table index in the low 32 bits, the index's
/// generation in the high 32) that the kernel hands back in `epoll_data.u64`. Removing a
/// member bumps its index's generation, so a token still sitting in an `epoll_wait` batch
/// after its connection closed (another connection's handler closed it earlier in the same
/// batch, and a new connection may already have the same index and even the same fd) no
/// longer resolves: a closed connection is never touched again, and a new one gets only its
/// own events. Pure bookkeeping, no I/O; confined to the slot's queue.
///
/// The table holds its members strongly: a registered connection is kept alive by its slot
/// until it leaves the epoll set (the connection's "alive until closed" rule).
struct PollRegistry<Member: AnyObject> {
    private var members: [Member?] = []
    private var generations: [UInt32] = []
    private var free: [UInt32] = []

    /// Registered members.
    private(set) var count = 0

    /// Adds `member`; returns its token for `epoll_data.u64`.
    mutating func add(_ member: Member) -> UInt64 {
        let index: Int
        if let reused = free.popLast() {
            index = Int(reused)
            members[index] = member
        } else {
            index = members.count
            members.append(member)
            generations.append(0)
        }
        count += 1
        return Self.token(index: index, generation: generations[index])
    }

    /// The member a token names, or nil when that member has been removed since.
    func member(for token: UInt64) -> Member? {
        let index = Int(token & 0xFFFF_FFFF)
        guard index < members.count, generations[index] == UInt32(truncatingIfNeeded: token >> 32) else {
            return nil
        }
        return members[index]
    }

    /// Removes the member a token names (no-op for a stale token); its token stops resolving.
    mutating func remove(_ token: UInt64) {
        let index = Int(token & 0xFFFF_FFFF)
        guard index < members.count, members[index] != nil,
              generations[index] == UInt32(truncatingIfNeeded: token >> 32) else { return }
        members[index] = nil
        generations[index] &+= 1
        free.append(UInt32(index))
        count -= 1
    }

    private static func token(index: Int, generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(index)
    }
}
