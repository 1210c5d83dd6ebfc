import COpenSSL
import Dispatch
import Foundation

/// scrypt password hashes through OpenSSL, stored in PHC string form with their parameters beside
/// them (`$scrypt$ln=17,r=8,p=1$<salt>$<hash>`, base64), so the cost can be raised later while old
/// hashes still verify.
public struct PasswordHasher: Sendable {
    public var log2N: Int
    public var r: Int
    public var p: Int

    static let saltBytes = 16
    static let hashBytes = 32

    public init(log2N: Int, r: Int, p: Int) {
        self.log2N = log2N
        self.r = r
        self.p = p
    }

    public func hash(password: String) -> String? {
        var salt = [UInt8](repeating: 0, count: Self.saltBytes)
        guard RAND_bytes(&salt, Int32(salt.count)) == 1 else { return nil }
        guard let digest = Self.scrypt(password: password, salt: salt, log2N: log2N, r: r, p: p) else { return nil }
        return "$scrypt$ln=\(log2N),r=\(r),p=\(p)$\(Data(salt).base64EncodedString())$\(Data(digest).base64EncodedString())"
    }

    /// True when `password` matches `stored`; false for a wrong password or a hash it cannot read.
    public static func verify(password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt",
              let salt = Data(base64Encoded: String(parts[3])), let expected = Data(base64Encoded: String(parts[4])),
              !expected.isEmpty
        else { return false }
        var params: [Substring: Int] = [:]
        for pair in parts[2].split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let value = Int(kv[1]) else { return false }
            params[kv[0]] = value
        }
        guard let ln = params["ln"], let r = params["r"], let p = params["p"], (1...22).contains(ln),
              let digest = scrypt(password: password, salt: Array(salt), log2N: ln, r: r, p: p,
                                  length: expected.count)
        else { return false }
        return digest.withUnsafeBytes { a in
            expected.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 }
        }
    }

    static func scrypt(password: String, salt: [UInt8], log2N: Int, r: Int, p: Int,
                       length: Int = hashBytes) -> [UInt8]? {
        let n = UInt64(1) << UInt64(log2N)
        // EVP_PBE_scrypt refuses to run above maxmem (default 32 MiB); allow what these parameters need.
        let maxmem = UInt64(128 * r) * (n + UInt64(p) + 2) + (1 << 20)
        var out = [UInt8](repeating: 0, count: length)
        let utf8 = Array(password.utf8)
        let ok = utf8.withUnsafeBufferPointer { pw in
            salt.withUnsafeBufferPointer { s in
                EVP_PBE_scrypt(pw.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                               pw.count, s.baseAddress, s.count, n, UInt64(r), UInt64(p), maxmem, &out, out.count)
            }
        }
        return ok == 1 ? out : nil
    }
}

/// Who a password hash is for: one connection. At most one of its hashes waits or runs at a time,
/// and once the connection has closed, its hash that has not started yet is dropped (a storm of
/// REGISTER/LOGIN lines from connections that then vanish must not keep the pool busy for minutes).
public final class HashingOwner: @unchecked Sendable {
    private let lock = NSLock()
    private var closed = false
    private var hashing = false

    public init() {}

    /// The connection is gone: its hash that has not started will not run.
    public func close() {
        lock.lock()
        closed = true
        lock.unlock()
    }

    var isClosed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return closed
    }

    /// Takes the owner's one hashing slot; false while it holds it.
    fileprivate func claim() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if hashing { return false }
        hashing = true
        return true
    }

    fileprivate func release() {
        lock.lock()
        hashing = false
        lock.unlock()
    }
}

/// CPU- and memory-heavy password hashing off the I/O queues: at most `threads` hashes run at
/// once (each scrypt at N=2^17 takes 128 MiB), in arrival order from one bounded queue.
/// - A hash whose owner has closed by the time its turn comes is dropped, not computed.
/// - An owner has at most one hash waiting or running.
/// - At most `maxQueued` hashes wait; beyond that `submit` refuses (the server is busy: the caller
///   answers ERR RATE_LIMITED at once rather than make everyone wait longer).
/// - When the last hash is done and none waits, `onIdle` runs with what was done since the last
///   time (the service trims the heap then, and logs a storm's drops and refusals).
public final class HashingPool: @unchecked Sendable {
    public enum Refusal: Error, Equatable, Sendable {
        /// `maxQueued` hashes already wait.
        case busy
        /// This owner already has a hash waiting or running.
        case ownerBusy
    }

    /// What the pool has done, for the log and for tests.
    public struct Counts: Equatable, Sendable {
        public var completed = 0
        public var dropped = 0
        public var refused = 0
        public var waiting = 0
        public var running = 0
    }

    private struct Job {
        let owner: HashingOwner
        let run: @Sendable () -> Void
        let drop: @Sendable () -> Void
    }

    public let threads: Int
    public let maxQueued: Int
    private let onIdle: @Sendable (_ sinceLastIdle: Counts) -> Void
    private var countsAtLastIdle = Counts()
    private let lock = NSLock()
    private var queue: [Job] = []
    private var queueHead = 0
    private var counts = Counts()
    private let workers = DispatchQueue(label: "partnerline.hashing", qos: .utility, attributes: .concurrent)

    public init(threads: Int, maxQueued: Int = 16, onIdle: @escaping @Sendable (_ sinceLastIdle: Counts) -> Void = { _ in }) {
        self.threads = max(1, threads)
        self.maxQueued = max(1, maxQueued)
        self.onIdle = onIdle
    }

    public var currentCounts: Counts {
        lock.lock()
        defer { lock.unlock() }
        return counts
    }

    /// Queues `work` for `owner`; `then` gets its result once the owner's slot is free again (so
    /// the owner may submit its next hash from there). `dropped` runs instead of both when the
    /// owner closed before the work started. Returns why it was refused, or nil when queued.
    public func submit<Result: Sendable>(for owner: HashingOwner, _ work: @escaping @Sendable () -> Result,
                                         then: @escaping @Sendable (Result) -> Void,
                                         dropped: @escaping @Sendable () -> Void = {}) -> Refusal? {
        lock.lock()
        if queue.count - queueHead >= maxQueued {
            counts.refused += 1
            lock.unlock()
            return .busy
        }
        guard owner.claim() else {
            counts.refused += 1
            lock.unlock()
            return .ownerBusy
        }
        queue.append(Job(owner: owner,
                         run: { let result = work(); owner.release(); then(result) },
                         drop: { owner.release(); dropped() }))
        counts.waiting += 1
        let startWorker = counts.running < threads
        if startWorker { counts.running += 1 }
        lock.unlock()
        if startWorker { workers.async { [self] in drain() } }
        return nil
    }

    /// One worker: takes jobs in order until none waits.
    private func drain() {
        while true {
            lock.lock()
            guard queueHead < queue.count else {
                counts.running -= 1
                let idle = counts.running == 0
                queue.removeAll(keepingCapacity: false)
                queueHead = 0
                var since = Counts()
                if idle {
                    since.completed = counts.completed - countsAtLastIdle.completed
                    since.dropped = counts.dropped - countsAtLastIdle.dropped
                    since.refused = counts.refused - countsAtLastIdle.refused
                    countsAtLastIdle = counts
                }
                lock.unlock()
                if idle { onIdle(since) }
                return
            }
            let job = queue[queueHead]
            queueHead += 1
            counts.waiting -= 1
            if queueHead > 64, queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            let closed = job.owner.isClosed
            if closed { counts.dropped += 1 }
            lock.unlock()
            if closed {
                job.drop()
            } else {
                job.run()
                lock.lock()
                counts.completed += 1
                lock.unlock()
            }
        }
    }
}
