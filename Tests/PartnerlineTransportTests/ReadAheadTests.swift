import COpenSSL
import Foundation
import Testing
@testable import PartnerlineTransport
#if canImport(Glibc)
import Glibc
#endif

/// The server reads ahead (`SSL_CTX_set_read_ahead`): one `read` can take the end of a handshake
/// and application data behind it, or several records at once. Bytes OpenSSL has read but not yet
/// decrypted are invisible to the socket's readable event, so the connection must read them
/// itself; these tests put bytes exactly there.
@Suite(.serialized)
struct ReadAheadTests {
    /// A TLS client over memory BIOs, pumped by hand over a blocking socket, so the test decides
    /// which bytes leave in which `send`.
    private final class HandPumpedClient {
        let fd: Int32
        let ssl: OpaquePointer
        let toServer: OpaquePointer    // the client's wbio: what it wants to send
        let fromServer: OpaquePointer  // the client's rbio: what it has received
        private let context: TLSClientContext

        init(port: Int) throws {
            context = try TLSClientContext(verifyPeer: false)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw TransportError.posix("connect") }
            var timeout = timeval(tv_sec: Int(hangGuardSeconds), tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            ssl = SSL_new(context.context)!
            toServer = BIO_new(BIO_s_mem())!
            fromServer = BIO_new(BIO_s_mem())!
            SSL_set_bio(ssl, fromServer, toServer)
            SSL_set_connect_state(ssl)
        }

        deinit {
            SSL_free(ssl)   // frees both BIOs
            close(fd)
        }

        /// Everything the client has queued for the server.
        func takeOutgoing() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: Int(BIO_ctrl_pending(toServer)))
            if !bytes.isEmpty { _ = BIO_read(toServer, &bytes, Int32(bytes.count)) }
            return bytes
        }

        func sendRaw(_ bytes: [UInt8]) throws {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, 0) }
                guard n > 0 else { throw TransportError.posix("send") }
                offset += n
            }
        }

        /// Feeds what the server sent into the client's rbio (blocking for at least one byte).
        func receiveSome() throws {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { throw TransportError.posix("recv") }
            _ = BIO_write(fromServer, buffer, Int32(n))
        }

        /// Runs the handshake until the client has written its Finished, which stays queued.
        func handshakeHoldingFinished() throws {
            while true {
                let result = SSL_do_handshake(ssl)
                if result == 1 { return }
                guard SSL_get_error(ssl, result) == SSL_ERROR_WANT_READ else { throw TransportError.openSSL("handshake") }
                try sendRaw(takeOutgoing())
                try receiveSome()
            }
        }

        func queue(_ text: String) {
            let bytes = Array(text.utf8)
            _ = SSL_write(ssl, bytes, Int32(bytes.count))
        }

        /// Reads decrypted lines until `count` have arrived.
        func readLines(_ count: Int) throws -> [String] {
            var text = ""
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while text.utf8.count(where: { $0 == 10 }) < count {
                let n = SSL_read(ssl, &buffer, Int32(buffer.count))
                if n > 0 {
                    text += String(decoding: buffer[0..<Int(n)], as: UTF8.self)
                    continue
                }
                guard SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ else { throw TransportError.openSSL("read") }
                try sendRaw(takeOutgoing())
                try receiveSome()
            }
            return text.split(whereSeparator: \.isNewline).map(String.init)   // "\r\n" is one Character
        }
    }

    @Test func dataInTheSameSegmentAsTheClientFinishedIsRead() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context())
        let client = try HandPumpedClient(port: server.port)
        try client.handshakeHoldingFinished()
        // Finished, then two lines, leave in ONE send: the server's handshake read takes them all.
        client.queue("first\n")
        client.queue("second\n")
        try client.sendRaw(client.takeOutgoing())
        #expect(try client.readLines(2) == ["first", "second"])
    }

    @Test func manyRecordsInOneSegmentAreAllRead() throws {
        let certs = try CertFixture()
        let server = try EchoServer(tls: try certs.context())
        let client = try HandPumpedClient(port: server.port)
        try client.handshakeHoldingFinished()
        try client.sendRaw(client.takeOutgoing())
        // Bursts of 215...300 records of 300 bytes (63-88 KiB, around the 64 KiB read budget after
        // which the server yields its queue), each in one send: whether the budget is crossed with
        // records still buffered in OpenSSL or not, every record is read and answered. (Which size
        // makes the budget-crossing read also empty the socket depends on OpenSSL's read-ahead buffer
        // and TCP's segmenting, so several sizes are tried.)
        for count in stride(from: 215, through: 300, by: 5) {
            for i in 0..<count { client.queue("record \(i) " + String(repeating: "x", count: 300 - 12 - String(i).count) + "\n") }
            try client.sendRaw(client.takeOutgoing())
            let lines = try client.readLines(count)
            #expect(lines.count == count)
            #expect(lines.last?.hasPrefix("record \(count - 1) ") == true)
        }
    }
}
