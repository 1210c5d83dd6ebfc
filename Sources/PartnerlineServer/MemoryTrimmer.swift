import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Hands freed heap pages back to the system within a second or two of connections arriving or
/// closing, and of the password-hashing pool going idle.
/// A TLS handshake allocates far more (record buffers, key shares, certificate signing) than an
/// idle connection keeps, and a closed connection or a finished scrypt hash frees what it held;
/// glibc keeps the freed pages, which lie between the small objects that connections keep, and so
/// count in the server's resident memory (after a login storm it stayed at 185-250 MB until the
/// next connection). `malloc_trim(0)` returns whole free pages inside the heaps (MADV_DONTNEED).
/// It runs only after such a request, at most once per interval, on its own queue; on a quiet
/// server it does nothing.
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

    /// Memory was freed (a connection closed, the hashing pool went idle): trim within an interval.
    func requestTrim() {
        opened.withLock { $0 += 1 }
    }

    func stop() {
        timer.cancel()
    }

    static func trim() {
        _ = mallocTrim?(0)
    }

    /// Fixed glibc thresholds, set once per process before the server starts. By default glibc
    /// raises its mmap threshold (up to 32 MiB) each time a large block is freed, and its trim
    /// threshold with it: after one scrypt hash below 32 MiB (N = 2^14 is 16 MiB) the next ones
    /// come from the hashing thread's own heap, and that heap's free top is given back only above
    /// twice that size; `malloc_trim` never trims the top of a thread's heap. A login storm then
    /// leaves tens of MiB resident per hashing thread. With both thresholds fixed, a block of
    /// 4 MiB or more (every scrypt buffer; nothing a connection keeps: outbound buffers are at most
    /// 1 MiB) is its own mapping, returned when freed, and a heap's free top above 1 MiB is given
    /// back at once.
    static let tuneHeap: Void = {
        #if canImport(Glibc)
        guard let symbol = dlsym(nil, "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3   // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
        _ = mallopt(mmapThreshold, 4 << 20)
        _ = mallopt(trimThreshold, 1 << 20)
        #endif
    }()

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
