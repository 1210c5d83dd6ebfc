import Dispatch
import Foundation
@testable import PartnerlineTransport

/// Hang guard for waits in tests (not a timed assertion: a healthy run never gets near it).
let hangGuardSeconds: Double = 30

/// A temp dir with a fresh self-signed certificate (key and cert made by CertificateFactory).
final class CertFixture {
    let directory: String
    let certificatePath: String
    let keyPath: String

    init(names: [String] = ["localhost", "127.0.0.1", "::1"]) throws {
        directory = NSTemporaryDirectory() + "partnerline-transport-tests-\(UUID().uuidString)"
        certificatePath = directory + "/tls/cert.pem"
        keyPath = directory + "/tls/private/key.pem"
        try CertificateFactory.makeSelfSigned(commonName: names.first ?? "localhost", subjectAltNames: names,
                                              days: 2, certificatePath: certificatePath, privateKeyPath: keyPath)
    }

    func context() throws -> TLSServerContext {
        try TLSServerContext(certificateChainPath: certificatePath, privateKeyPath: keyPath)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Collects connectionClosed reasons by label (a handler's label is "conn-<id>" until the
/// client sends "NAME x"), and protocol violations (calls after connectionClosed, twice closed).
final class Recorder: @unchecked Sendable {
    private let condition = NSCondition()
    private var reasons: [String: [CloseReason]] = [:]
    private var violations: [String] = []

    func closed(label: String, reason: CloseReason) {
        condition.lock()
        reasons[label, default: []].append(reason)
        condition.broadcast()
        condition.unlock()
    }

    func violation(_ text: String) {
        condition.lock()
        violations.append(text)
        condition.unlock()
    }

    var allViolations: [String] {
        condition.lock()
        defer { condition.unlock() }
        return violations
    }

    func reasons(for label: String) -> [CloseReason] {
        condition.lock()
        defer { condition.unlock() }
        return reasons[label] ?? []
    }

    /// Waits until `label` has at least one close reason (nil after the hang guard).
    func waitForClose(_ label: String) -> [CloseReason]? {
        waitUntil { $0[label].map { !$0.isEmpty } ?? false }.flatMap { $0[label] }
    }

    /// Waits until at least `count` connections closed in total; returns every reason.
    func waitForCloses(count: Int) -> [CloseReason]? {
        waitUntil { $0.values.reduce(0) { $0 + $1.count } >= count }.map { $0.values.flatMap { $0 } }
    }

    private func waitUntil(_ done: ([String: [CloseReason]]) -> Bool) -> [String: [CloseReason]]? {
        let deadline = Date(timeIntervalSinceNow: hangGuardSeconds)
        condition.lock()
        defer { condition.unlock() }
        while !done(reasons) {
            if !condition.wait(until: deadline) { return nil }
        }
        return reasons
    }
}

/// A line-echo handler with a few test commands:
///   NAME x      -> label the connection x, reply "OK NAME x"
///   BIG n       -> n bytes of 1000-byte lines ("x..." + CRLF, sent in several send() calls), then "END n"
///   QUIT        -> "BYE" then close(flush: true)
///   DROP        -> close(flush: false)
///   FLOOD       -> send 32 KiB per queue turn until the connection closes
///   anything else is echoed back with CRLF.
final class EchoHandler: ConnectionHandler, @unchecked Sendable {
    private let recorder: Recorder
    private var label: String
    private var pendingLine: [UInt8] = []
    private var closed = false
    private(set) var readyCount = 0

    init(recorder: Recorder, id: UInt64) {
        self.recorder = recorder
        self.label = "conn-\(id)"
    }

    func connectionReady(_ connection: Connection) {
        if closed { recorder.violation("\(label): ready after close") }
        readyCount += 1
    }

    func connection(_ connection: Connection, didReceive bytes: UnsafeRawBufferPointer) {
        if closed { recorder.violation("\(label): data after close") }
        for byte in bytes {
            if byte == 10 {
                var line = pendingLine
                pendingLine.removeAll(keepingCapacity: true)
                if line.last == 13 { line.removeLast() }
                handle(line, connection)
                if closed { return }
            } else {
                pendingLine.append(byte)
            }
        }
    }

    func connectionClosed(_ connection: Connection, reason: CloseReason) {
        if closed { recorder.violation("\(label): closed twice") }
        closed = true
        recorder.closed(label: label, reason: reason)
    }

    private func handle(_ line: [UInt8], _ connection: Connection) {
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix("NAME ") {
            label = String(text.dropFirst(5))
            connection.send(Array("OK NAME \(label)\r\n".utf8))
        } else if text.hasPrefix("BIG "), let total = Int(text.dropFirst(4)) {
            let lineBytes = [UInt8](repeating: UInt8(ascii: "x"), count: 998) + [13, 10]
            var sent = 0
            while sent < total {
                connection.send(lineBytes)
                sent += lineBytes.count
            }
            connection.send(Array("END \(total)\r\n".utf8))
        } else if text == "QUIT" {
            connection.send(Array("BYE\r\n".utf8))
            connection.close(flush: true)
        } else if text == "DROP" {
            connection.close(flush: false)
        } else if text == "FLOOD" {
            flood(connection)
        } else {
            connection.send(line + [13, 10])
        }
    }

    private func flood(_ connection: Connection) {
        guard !closed else { return }
        connection.send([UInt8](repeating: UInt8(ascii: "f"), count: 32 * 1024 - 2) + [13, 10])
        connection.queue.async { [self, connection] in self.flood(connection) }
    }
}

/// An echo server on a Listener; keeps the handlers' recorder.
final class EchoServer {
    let listener: Listener
    let recorder = Recorder()
    let pool: IOQueuePool

    /// `observe` sees each accepted connection before it starts (on its queue).
    init(host: String = "127.0.0.1", tls: TLSServerContext?, maxOutboundBytes: Int = 1 << 20, poolSize: Int = 2,
         observe: (@Sendable (Connection) -> Void)? = nil) throws {
        TransportSetup.ignoreSIGPIPE()
        let recorder = self.recorder
        pool = IOQueuePool(count: poolSize)
        listener = try Listener(host: host, port: 0, tls: tls, queues: pool, maxOutboundBytes: maxOutboundBytes) {
            connection in
            observe?(connection)
            let handler = EchoHandler(recorder: recorder, id: connection.id)
            connection.handler = handler
            connection.start()
        }
        listener.start()
    }

    var port: Int { listener.localPort }

    deinit {
        listener.stop()
    }
}

/// Polls `condition` every 20 ms until it holds (false after the hang guard).
func eventually(_ condition: () -> Bool) -> Bool {
    let deadline = Date(timeIntervalSinceNow: hangGuardSeconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// Runs a subprocess with a hang guard; returns exit status and combined stdout+stderr.
func runProcess(_ executable: String, _ arguments: [String], input: Data? = nil) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    let stdin = Pipe()
    process.standardInput = stdin
    let collected = Locked<Data>(Data())
    let done = DispatchSemaphore(value: 0)
    output.fileHandleForReading.readabilityHandler = { handle in
        let chunk = handle.availableData
        if chunk.isEmpty {
            handle.readabilityHandler = nil
            done.signal()
        } else {
            collected.withLock { $0.append(chunk) }
        }
    }
    try process.run()
    if let input { stdin.fileHandleForWriting.write(input) }
    try stdin.fileHandleForWriting.close()
    if done.wait(timeout: .now() + hangGuardSeconds) == .timedOut {
        kill(process.processIdentifier, SIGKILL)
    }
    reap(process)
    let text = collected.withLock { String(decoding: $0, as: UTF8.self) }
    return (process.terminationStatus, text)
}

struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Text collected from a subprocess pipe, with a wait for a condition (hang-guarded).
final class OutputCollector: @unchecked Sendable {
    private let condition = NSCondition()
    private var text = ""

    func append(_ data: Data) {
        condition.lock()
        text += String(decoding: data, as: UTF8.self)
        condition.broadcast()
        condition.unlock()
    }

    func wait(until done: (String) -> Bool) -> String {
        let deadline = Date(timeIntervalSinceNow: hangGuardSeconds)
        condition.lock()
        defer { condition.unlock() }
        while !done(text) && condition.wait(until: deadline) {}
        return text
    }
}

/// Waits for a subprocess, SIGKILLing it after the hang guard. (Children spawned from a
/// Dispatch thread inherit its blocked-signal mask, so Process.terminate()'s SIGTERM may
/// never be delivered.)
func reap(_ process: Process) {
    let deadline = Date(timeIntervalSinceNow: hangGuardSeconds)
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
}
