import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Hands freed heap pages back to the system within a second or two of connections arriving.
/// A TLS handshake allocates far more (record buffers, key shares, certificate signing) than an
/// idle connection keeps; glibc keeps the freed pages, which lie between the small objects that
/// connections keep, and so count in the server's resident memory. `malloc_trim(0)` returns whole
/// free pages inside the heaps (MADV_DONTNEED). It runs only after new connections, at most once
/// per interval, on its own queue; on a quiet server it does nothing.
final class MemoryTrimmer: @unchecked Sendable {
    private let opened = Locked<Int>(0)
    private let timer: DispatchSourceTimer

    init(intervalSeconds: Int = 1) {
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "partnerline.trim", qos: .utility))
        timer.schedule(deadline: .now() + .seconds(intervalSeconds), repeating: .seconds(intervalSeconds),
                       leeway: .milliseconds(200))
        timer.setEventHandler { @Sendable [opened] in
            let count = opened.withLock { value -> Int in
                defer { value = 0 }
                return value
            }
            if count > 0 { Self.trim() }
        }
        timer.resume()
    }

    deinit {
        timer.cancel()
    }

    func connectionOpened() {
        opened.withLock { $0 += 1 }
    }

    func stop() {
        timer.cancel()
    }

    static func trim() {
        _ = mallocTrim?(0)
    }

    /// glibc's `malloc_trim`, which the Glibc module does not export (nil on other C libraries).
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(nil, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()
}
