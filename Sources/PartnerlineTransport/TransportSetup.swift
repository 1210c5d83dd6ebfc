// PartnerlineTransport: OpenSSL + Dispatch transport for Partnerline.
// Process-wide setup, the one error type, and a tiny pluggable log hook.

import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum TransportSetup {
    /// signal(SIGPIPE, SIG_IGN). Call once at start (trap 1: SSL_write cannot pass MSG_NOSIGNAL).
    public static func ignoreSIGPIPE() {
        _ = signal(SIGPIPE, SIG_IGN)
    }

    /// Raises the RLIMIT_NOFILE soft limit to the hard limit (trap 11); returns the new soft limit.
    /// If the hard limit is "unlimited", tries /proc/sys/fs/nr_open instead.
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0 else { return 0 }
        var target = limit.rlim_max
        if target == rlim_t.max {  // RLIM_INFINITY (its C spelling does not import cleanly)
            if let text = ProcFile.read("/proc/sys/fs/nr_open"),
               let value = rlim_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                target = value
            } else {
                target = 1 << 20
            }
        }
        if target > limit.rlim_cur {
            var raised = limit
            raised.rlim_cur = target
            if setrlimit(resource, &raised) == 0 {
                return Int(target)
            }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Replaces the transport's log sink (default: one line on stderr). The server
    /// points this at its logger. Thread-safe.
    public static func setLogHandler(_ handler: @escaping @Sendable (String) -> Void) {
        logSink.withLock { $0 = handler }
    }

    static func log(_ message: String) {
        let sink = logSink.withLock { $0 }
        sink(message)
    }

    private static let logSink = Locked<@Sendable (String) -> Void>({ message in
        FileHandle.standardError.write(Data("partnerline-transport: \(message)\n".utf8))
    })
}

/// A transport failure. `description` carries the OpenSSL error-queue text and/or errno text.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    /// Broad class of the failure, so callers (mostly BlockingLineClient users) can tell
    /// an orderly end of stream or a timeout from other failures.
    public enum Kind: Sendable, Equatable {
        case endOfStream
        case timedOut
        /// The peer reset the connection or the pipe broke (ECONNRESET, EPIPE, ECONNABORTED):
        /// the transport went away, nobody refused anything. Retrying later may well succeed.
        case connectionLost
        case other
    }

    /// The errno values that mean the peer (or something between) dropped the TCP connection.
    public static func isConnectionLost(errno code: Int32) -> Bool {
        code == ECONNRESET || code == EPIPE || code == ECONNABORTED
    }

    public let description: String
    public let kind: Kind

    public init(_ description: String, kind: Kind = .other) {
        self.description = description
        self.kind = kind
    }

    /// errno text for a failed system call: "connect: Connection refused (errno 111)".
    static func posix(_ what: String, _ code: Int32 = errno) -> TransportError {
        let kind: Kind = (code == EAGAIN || code == EWOULDBLOCK) ? .timedOut : .other
        return TransportError("\(what): \(errnoText(code))", kind: kind)
    }

    static func errnoText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return "\(String(validatingCString: text) ?? "?") (errno \(code))"
    }

    /// Drains this thread's OpenSSL error queue into one message (the single place
    /// where OpenSSL errors become text).
    static func openSSL(_ what: String, errnoValue: Int32 = 0, kind: Kind = .other) -> TransportError {
        let queue = drainOpenSSLErrors()
        var text = what
        if !queue.isEmpty {
            text += ": " + queue.joined(separator: "; ")
        } else if errnoValue != 0 {
            text += ": " + errnoText(errnoValue)
        }
        return TransportError(text, kind: kind)
    }

    static func drainOpenSSLErrors() -> [String] {
        var messages: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            ERR_error_string_n(code, &buffer, buffer.count)
            let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            messages.append(String(decoding: bytes, as: UTF8.self))
        }
        return messages
    }
}

/// A value guarded by a lock; for the few bits of shared state outside queue confinement.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
