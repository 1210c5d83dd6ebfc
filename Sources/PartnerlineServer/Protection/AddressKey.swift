#if canImport(Glibc)
import Glibc
#endif

/// What connection limits and login throttling count by: an IPv4 address, or the /64 an IPv6
/// address is in (one home or office usually gets a whole /64, so counting single IPv6
/// addresses would let one host take thousands). An IPv4 peer on a dual-stack socket
/// (`::ffff:a.b.c.d`) counts as its IPv4 address.
struct AddressKey: Hashable, Sendable, CustomStringConvertible {
    let description: String

    init(host: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            description = host
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else {
            description = host   // not numeric (cannot happen for accepted sockets): count it as given
            return
        }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            description = bytes[12..<16].map(String.init).joined(separator: ".")
            return
        }
        var words: [String] = []
        for index in stride(from: 0, to: 8, by: 2) {
            words.append(String(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1]), radix: 16))
        }
        description = words.joined(separator: ":") + "::/64"
    }
}
