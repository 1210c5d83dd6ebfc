import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether this machine has an IPv6 loopback, decided with a plain socket bound to `[::1]:0`
/// (libc only, none of the project's code), so the IPv6 tests are not switched on by the code
/// they test: if the project's listener broke on IPv6 they fail rather than skip themselves.
public enum IPv6Loopback {
    public static let isAvailable: Bool = {
        #if canImport(Glibc)
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET6, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        address.sin6_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        return bound == 0
    }()

    /// Why the IPv6 tests are skipped (a plain string: this library does not link Testing; use
    /// `Comment(rawValue: IPv6Loopback.absentReason)`).
    public static let absentReason = "no IPv6 loopback on this machine (a plain bind to [::1]:0 failed)"
}
