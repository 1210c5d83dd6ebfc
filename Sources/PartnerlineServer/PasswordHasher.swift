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

/// A small fixed set of serial queues for CPU-heavy work (password hashing), so a burst of logins
/// never runs on the I/O queues and never uses more than `threads` hashes' worth of memory at once.
public final class HashingPool: Sendable {
    private let queues: [DispatchQueue]
    private let counter = AtomicCounter()

    public init(threads: Int) {
        queues = (0..<max(1, threads)).map { DispatchQueue(label: "partnerline.hashing.\($0)", qos: .utility) }
    }

    public func run(_ work: @escaping @Sendable () -> Void) {
        queues[Int(counter.next() % UInt64(queues.count))].async(execute: work)
    }
}

/// A lock-protected counter for round-robin choices across threads.
final class AtomicCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64 = 0

    func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        value &+= 1
        return value
    }
}
