import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Hands freed heap pages back to the system within a second or two of connections arriving or
/// closing, of the password-hashing pool going idle, and of a busy spell ending (and once more a
/// few seconds after that), as `TrimPolicy` decides.
/// A TLS handshake allocates far more (record buffers, key shares, certificate signing) than an
/// idle connection keeps, and a closed connection or a finished scrypt hash frees what it held;
/// glibc keeps the freed pages, which lie between the small objects that connections keep, and so
/// count in the server's resident memory (after a login storm it stayed at 185-250 MB until the
/// next connection). Traffic does the same: every `SSL_write` takes and frees a 17 KiB record
/// buffer, and fan-out blocks and output buffers come and go. `malloc_trim(0)` returns whole free
/// pages inside the heaps (MADV_DONTNEED). It runs at most once per interval, on its own queue; on
/// a quiet server it does nothing.
final class MemoryTrimmer: @unchecked Sendable {
    private let requested = Locked<Bool>(false)
    private let timer: DispatchSourceTimer

    init(intervalSeconds: Int = 1, policy: TrimPolicy = TrimPolicy()) {
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "partnerline.trim", qos: .utility))
        timer.schedule(deadline: .now() + .seconds(intervalSeconds), repeating: .seconds(intervalSeconds),
                       leeway: .milliseconds(200))
        let ticks = Ticks(policy: policy)
        timer.setEventHandler { @Sendable [requested] in
            let asked = requested.withLock { value -> Bool in
                defer { value = false }
                return value
            }
            if ticks.next(requested: asked) { Self.trim() }
        }
        timer.resume()
    }

    deinit {
        timer.cancel()
    }

    /// The policy and the process's CPU time at the last tick; touched only by the timer's
    /// handler (serial).
    private final class Ticks: @unchecked Sendable {
        private var policy: TrimPolicy
        private var lastCPU = MemoryTrimmer.processCPUSeconds()

        init(policy: TrimPolicy) { self.policy = policy }

        func next(requested: Bool) -> Bool {
            let cpu = MemoryTrimmer.processCPUSeconds()
            defer { lastCPU = cpu }
            return policy.tick(requested: requested, cpuSecondsThisTick: cpu - lastCPU)
        }
    }

    /// CPU time of the whole process (every thread), in seconds: the trimmer's sign of traffic.
    static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    func connectionOpened() {
        requested.withLock { $0 = true }
    }

    /// Memory was freed (a connection closed, the hashing pool went idle): trim within an interval.
    func requestTrim() {
        requested.withLock { $0 = true }
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

/// When the trimmer trims, decided once per tick (pure: the trimmer feeds it whether a trim was
/// asked for and the process's CPU time in the tick). A trim walks the heaps' free lists, and each
/// page it gave back costs a page fault when used again: cheap at a second's interval, not per
/// request.
/// - asked for (connections opened or closed, the hashing pool went idle): at once;
/// - the first quiet tick after busy ones (at least `busyCPUSeconds` of CPU in a tick): once, so
///   what a busy spell freed goes back when it ends, also while its clients stay connected;
/// - `settleTicks` quiet ticks after that, once more: libdispatch lets an idle worker thread exit
///   about 5 s after its last work item, and glibc then moves the chunks that thread cached (its
///   tcache) back to the heaps, where they free whole pages again. After the many-rooms bench the
///   server stayed at 45 MiB without this trim and came back to 39 MiB with it (30 MiB fresh);
/// - otherwise never: not while busy (trimming every 1 or 2 s of a many-rooms run changed its
///   resident memory by less than the run-to-run spread), and not on a quiet server.
struct TrimPolicy: Sendable, Equatable {
    /// CPU seconds in one tick (of any thread) that count as traffic: 5% of a core at one tick a
    /// second. An idle server's timers use far less.
    let busyCPUSeconds: Double
    /// Quiet ticks between the trim when a busy spell ends and the settling one.
    let settleTicks: Int

    private var busySinceTrim = false
    /// Quiet ticks left before the settling trim (0: none due).
    private var settleCountdown = 0

    init(busyCPUSeconds: Double = 0.05, settleTicks: Int = 8) {
        self.busyCPUSeconds = busyCPUSeconds
        self.settleTicks = max(1, settleTicks)
    }

    /// One tick; true when the trimmer should trim now.
    mutating func tick(requested: Bool, cpuSecondsThisTick: Double) -> Bool {
        let busy = cpuSecondsThisTick >= busyCPUSeconds
        if busy {
            busySinceTrim = true
            settleCountdown = 0
        }
        let spellEnded = !busy && busySinceTrim
        var trim = requested || spellEnded
        if !busy && !spellEnded && settleCountdown > 0 {
            settleCountdown -= 1
            if settleCountdown == 0 { trim = true }
        }
        if trim {
            busySinceTrim = busy
            if spellEnded { settleCountdown = settleTicks }
        }
        return trim
    }
}
