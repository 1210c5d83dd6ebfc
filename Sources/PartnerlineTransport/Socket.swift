import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Small POSIX socket helpers shared by Listener and BlockingLineClient.
enum Socket {
    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    static func setNonBlockingCloseOnExec(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        let fdFlags = fcntl(fd, F_GETFD)
        if fdFlags >= 0 { _ = fcntl(fd, F_SETFD, fdFlags | FD_CLOEXEC) }
    }

    /// getaddrinfo for TCP; the caller frees with freeaddrinfo.
    static func resolve(host: String, port: Int, passive: Bool) throws -> UnsafeMutablePointer<addrinfo> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &result)
        guard rc == 0, let result else {
            let text = gai_strerror(rc).flatMap { String(validatingCString: $0) } ?? "error \(rc)"
            throw TransportError("getaddrinfo \(host):\(port): \(text)")
        }
        return result
    }

    /// Numeric host and port of a socket address.
    static func numericName(_ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> (String, Int) {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let rc = getnameinfo(address, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                             NI_NUMERICHOST | NI_NUMERICSERV)
        guard rc == 0 else { return ("?", 0) }
        return (string(host), Int(string(service)) ?? 0)
    }

    static func peerAddress(_ storage: sockaddr_storage, _ length: socklen_t) -> PeerAddress {
        var storage = storage
        let (host, port) = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { numericName($0, length) }
        }
        return PeerAddress(host: host, port: port, isLoopback: isLoopback(storage))
    }

    static func isLoopback(_ storage: sockaddr_storage) -> Bool {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    (UInt32(bigEndian: $0.pointee.sin_addr.s_addr) >> 24) == 127
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var address = pointer.pointee.sin6_addr
                    return withUnsafeBytes(of: &address) { bytes in
                        let b = Array(bytes)
                        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return true }   // ::1
                        // ::ffff:127.x.x.x
                        return b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff && b[12] == 127
                    }
                }
            }
        default:
            return false
        }
    }

    private static func string(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
