import COpenSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The record codec: one record is one line,
//
//     <payload-length in decimal> <hash: 64 lowercase hex> <payload bytes>\n
//
// where hash = SHA-256(previous record's hash (32 raw bytes) || payload). The first
// record of a journal chains from 32 zero bytes. Encoding appends into a caller-owned
// batch buffer; parsing works on a whole segment held in memory.

/// A 32-byte SHA-256 digest held inline (no heap allocation per record).
struct Digest: Equatable, Sendable {
    private var storage: (UInt64, UInt64, UInt64, UInt64)

    static let zero = Digest(storage: (0, 0, 0, 0))

    private init(storage: (UInt64, UInt64, UInt64, UInt64)) {
        self.storage = storage
    }

    /// Fills a digest by letting `body` write exactly 32 bytes.
    init(filling body: (UnsafeMutableRawBufferPointer) -> Void) {
        var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &storage) { body($0) }
        self.storage = storage
    }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = storage
        return try Swift.withUnsafeBytes(of: &copy) { try body($0) }
    }

    static func == (lhs: Digest, rhs: Digest) -> Bool {
        lhs.storage.0 == rhs.storage.0 && lhs.storage.1 == rhs.storage.1
            && lhs.storage.2 == rhs.storage.2 && lhs.storage.3 == rhs.storage.3
    }

    /// 64 lowercase hex characters.
    var hex: String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        Hex.append(self, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

enum Hex {
    static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Maps an ASCII byte to its value for lowercase hex digits, 0xFF otherwise.
    static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in digits.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    static func append(_ digest: Digest, to out: inout [UInt8]) {
        digest.withUnsafeBytes { raw in
            digits.withUnsafeBufferPointer { table in
                for byte in raw {
                    out.append(table[Int(byte >> 4)])
                    out.append(table[Int(byte & 0x0F)])
                }
            }
        }
    }

    /// Decodes 64 lowercase hex characters starting at `start`; nil if any is not one.
    static func decodeDigest(_ buffer: UnsafeBufferPointer<UInt8>, at start: Int) -> Digest? {
        var valid = true
        let digest = values.withUnsafeBufferPointer { table in
            Digest { out in
                for index in 0..<32 {
                    let high = table[Int(buffer[start + 2 * index])]
                    let low = table[Int(buffer[start + 2 * index + 1])]
                    if high == 0xFF || low == 0xFF { valid = false }
                    out[index] = (high << 4) | (low & 0x0F)
                }
            }
        }
        return valid ? digest : nil
    }
}

/// SHA-256 over OpenSSL's EVP interface, with the digest fetched once and one reusable
/// context. Not thread-safe: each writer or reader owns its own.
final class ChainHasher {
    private let md: OpaquePointer
    private let ctx: OpaquePointer

    init() {
        guard let md = EVP_MD_fetch(nil, "SHA256", nil), let ctx = EVP_MD_CTX_new() else {
            fatalError("OpenSSL: SHA-256 is unavailable")
        }
        self.md = md
        self.ctx = ctx
    }

    deinit {
        EVP_MD_CTX_free(ctx)
        EVP_MD_free(md)
    }

    /// SHA-256(previous || payload).
    func chain(_ previous: Digest, _ payload: UnsafeRawBufferPointer) -> Digest {
        var ok = EVP_DigestInit_ex2(ctx, md, nil) == 1
        previous.withUnsafeBytes { ok = ok && EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) == 1 }
        if payload.count > 0 {
            ok = ok && EVP_DigestUpdate(ctx, payload.baseAddress, payload.count) == 1
        }
        var length: UInt32 = 0
        let digest = Digest { out in
            ok = ok && EVP_DigestFinal_ex(ctx, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1
        }
        guard ok, length == 32 else { fatalError("OpenSSL: SHA-256 computation failed") }
        return digest
    }

    func chain(_ previous: Digest, _ payload: [UInt8]) -> Digest {
        payload.withUnsafeBytes { chain(previous, $0) }
    }
}

enum RecordCodec {
    static let newline: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    /// Longest accepted decimal length field (keeps parsing far from overflow).
    static let maxLengthDigits = 15

    /// Appends one encoded record to `out` and returns its hash (the new chain head).
    static func encode(_ payload: [UInt8], previous: Digest, hasher: ChainHasher, into out: inout [UInt8]) -> Digest {
        let hash = hasher.chain(previous, payload)
        appendDecimal(payload.count, to: &out)
        out.append(space)
        Hex.append(hash, to: &out)
        out.append(space)
        out.append(contentsOf: payload)
        out.append(newline)
        return hash
    }

    static func encodedSize(payloadCount: Int) -> Int {
        var digits = 1
        var value = payloadCount
        while value >= 10 {
            value /= 10
            digits += 1
        }
        return digits + 1 + 64 + 1 + payloadCount + 1
    }

    private static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for any Int
        withUnsafeMutableBytes(of: &scratch) { raw in
            var position = raw.count
            var remaining = value
            repeat {
                position -= 1
                raw[position] = 0x30 + UInt8(remaining % 10)
                remaining /= 10
            } while remaining > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[position...]))
        }
    }

    enum Parsed {
        /// A well-formed record; its hash is not yet checked against the chain.
        case record(payload: Range<Int>, hash: Digest, end: Int)
        /// Not a well-formed record at this offset.
        case bad(reason: String)
    }

    /// Parses the record starting at `start` (which must be < buffer.count).
    static func parse(_ buffer: UnsafeBufferPointer<UInt8>, at start: Int) -> Parsed {
        let count = buffer.count
        var index = start
        var length = 0
        while index < count, buffer[index] >= 0x30, buffer[index] <= 0x39 {
            if index - start >= maxLengthDigits { return .bad(reason: "bad length field") }
            length = length * 10 + Int(buffer[index] - 0x30)
            index += 1
        }
        let digits = index - start
        if index == count { return .bad(reason: "incomplete record (ends in the length field)") }
        if digits == 0 || buffer[index] != space || (digits > 1 && buffer[start] == 0x30) {
            return .bad(reason: "bad length field")
        }
        index += 1
        if count - index < 64 {
            if Hex.values.withUnsafeBufferPointer({ table in (index..<count).allSatisfy { table[Int(buffer[$0])] != 0xFF } }) {
                return .bad(reason: "incomplete record (ends in the hash)")
            }
            return .bad(reason: "bad hash hex")
        }
        guard let hash = Hex.decodeDigest(buffer, at: index) else { return .bad(reason: "bad hash hex") }
        index += 64
        if index == count { return .bad(reason: "incomplete record (ends after the hash)") }
        if buffer[index] != space { return .bad(reason: "bad hash hex (no space after 64 hex digits)") }
        index += 1
        let payloadStart = index
        let available = count - payloadStart
        let scanned = min(available, length)
        if scanned > 0,
           memchr(buffer.baseAddress! + payloadStart, Int32(newline), scanned) != nil
        {
            return .bad(reason: "bad length (line is shorter than the length field says)")
        }
        if available < length { return .bad(reason: "incomplete record (payload cut short)") }
        let payloadEnd = payloadStart + length
        if payloadEnd == count { return .bad(reason: "incomplete record (no newline)") }
        if buffer[payloadEnd] != newline {
            return .bad(reason: "bad length (line is longer than the length field says)")
        }
        return .record(payload: payloadStart..<payloadEnd, hash: hash, end: payloadEnd + 1)
    }

    /// Offset of the line after the one containing `offset`, or buffer.count.
    static func nextLineStart(_ buffer: UnsafeBufferPointer<UInt8>, after offset: Int) -> Int {
        guard offset < buffer.count else { return buffer.count }
        guard let found = memchr(buffer.baseAddress! + offset, Int32(newline), buffer.count - offset) else {
            return buffer.count
        }
        return buffer.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self)) + 1
    }

    /// True if a well-formed record starts anywhere after `offset`. A bad record followed
    /// by one is corruption, not a torn tail. Every position is tried, not only line
    /// starts, so that a damaged newline (which merges two lines) is still caught; a torn
    /// write cannot produce a well-formed record because it lacks the final newline.
    static func wellFormedRecordFollows(_ buffer: UnsafeBufferPointer<UInt8>, after offset: Int) -> Bool {
        var position = offset + 1
        while position < buffer.count {
            let byte = buffer[position]
            if byte >= 0x30, byte <= 0x39, case .record = parse(buffer, at: position) { return true }
            position += 1
        }
        return false
    }
}
