import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public enum FetchOutcome: Sendable, Equatable {
    /// 304: nothing changed since the validators were kept.
    case notModified
    /// The document, and the validators to send next time (nil when the server gave none).
    case fetched(Data, ValidatorStore.Validators?)
}

public struct FetchError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Gets a feed's bytes: a conditional GET over http(s) (If-None-Match / If-Modified-Since from the
/// kept validators), with an overall time limit and a size cap; or a local file (by path or
/// file:// URL), with the same cap. Blocking: called from the bot's own thread.
public struct FeedFetcher: Sendable {
    public var limits: BotConfig.FetchLimits

    public init(limits: BotConfig.FetchLimits) {
        self.limits = limits
    }

    public func fetch(_ location: String, validators: ValidatorStore.Validators?) throws -> FetchOutcome {
        let lower = location.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            guard let url = URL(string: location) else { throw FetchError("bad URL \(location)") }
            return try fetchHTTP(url, validators: validators)
        }
        let path = lower.hasPrefix("file://") ? (URL(string: location)?.path ?? location) : location
        return try readFile(path)
    }

    private func readFile(_ path: String) throws -> FetchOutcome {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.intValue else { throw FetchError("no file \(path)") }
        guard size <= limits.maxBytes else { throw FetchError("\(path) is \(size) bytes, over the \(limits.maxBytes)-byte limit") }
        guard let data = FileManager.default.contents(atPath: path) else { throw FetchError("cannot read \(path)") }
        return .fetched(data, nil)
    }

    private func fetchHTTP(_ url: URL, validators: ValidatorStore.Validators?) throws -> FetchOutcome {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalAndRemoteCacheData, timeoutInterval: limits.timeoutSeconds)
        request.setValue(limits.userAgent, forHTTPHeaderField: "User-Agent")
        if let etag = validators?.etag { request.setValue(etag, forHTTPHeaderField: "If-None-Match") }
        if let modified = validators?.lastModified { request.setValue(modified, forHTTPHeaderField: "If-Modified-Since") }

        let collector = Collector(maxBytes: limits.maxBytes)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        configuration.timeoutIntervalForRequest = limits.timeoutSeconds
        configuration.timeoutIntervalForResource = limits.timeoutSeconds
        let session = URLSession(configuration: configuration, delegate: collector, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        let task = session.dataTask(with: request)
        task.resume()
        // The session's own timeouts are per read; a feed that trickles a byte at a time is cut
        // here, at the overall limit.
        if collector.done.wait(timeout: .now() + limits.timeoutSeconds + 1) == .timedOut {
            task.cancel()
            _ = collector.done.wait(timeout: .now() + 5)
            throw FetchError("\(url.absoluteString): no complete answer within \(Int(limits.timeoutSeconds)) s")
        }
        let (response, body, failure) = collector.result
        if let failure { throw FetchError("\(url.absoluteString): \(failure)") }
        guard let http = response as? HTTPURLResponse else { throw FetchError("\(url.absoluteString): no HTTP response") }
        switch http.statusCode {
        case 304:
            return .notModified
        case 200...299:
            let etag = http.value(forHTTPHeaderField: "ETag")
            let modified = http.value(forHTTPHeaderField: "Last-Modified")
            let kept = (etag == nil && modified == nil) ? nil
                : ValidatorStore.Validators(url: url.absoluteString, etag: etag, lastModified: modified)
            return .fetched(body, kept)
        default:
            throw FetchError("\(url.absoluteString): HTTP \(http.statusCode)")
        }
    }

    /// Gathers one response, refusing bodies over the cap (by Content-Length up front, else as
    /// the bytes arrive).
    private final class Collector: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let maxBytes: Int
        let done = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private var response: URLResponse?
        private var body = Data()
        private var failure: String?

        init(maxBytes: Int) { self.maxBytes = maxBytes }

        var result: (URLResponse?, Data, String?) { lock.withLock { (response, body, failure) } }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            let declared = response.expectedContentLength
            lock.withLock { self.response = response }
            if declared > Int64(maxBytes) {
                lock.withLock { failure = "\(declared) bytes, over the \(maxBytes)-byte limit" }
                completionHandler(.cancel)
                return
            }
            completionHandler(.allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            let over = lock.withLock { () -> Bool in
                body.append(data)
                if body.count > maxBytes {
                    failure = "over the \(maxBytes)-byte limit"
                    return true
                }
                return false
            }
            if over { dataTask.cancel() }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            lock.withLock {
                if let error, failure == nil { failure = error.localizedDescription }
            }
            done.signal()
        }
    }
}
