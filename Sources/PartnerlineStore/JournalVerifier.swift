public enum JournalVerifier {
    /// Read-only check of every record's hash and the chain across segments; never
    /// modifies files (and takes no lock, so it can run beside a live server).
    ///
    /// Each fault is named by file and the start offset of the bad record. After a record
    /// whose hash does not match, checking continues from its stored hash, so one flipped
    /// payload byte is one fault; after an unparseable record it resumes at the next line.
    public static func verify(directory: String, hashAfterRecord wanted: Int? = nil) -> JournalVerifyReport {
        var report = JournalVerifyReport(
            directory: directory, records: 0, firstPayload: nil, lastPayload: nil,
            headHashHex: Digest.zero.hex, faults: [])
        func fault(_ file: String, _ offset: Int, _ reason: String) {
            report.faults.append(.init(file: file, offset: offset, reason: reason))
        }
        let segments: [Segment]
        do {
            segments = try Segment.list(directory: directory)
        } catch {
            fault(directory, 0, error.description)
            return report
        }
        if segments.isEmpty {
            fault(directory, 0, "no segment files (*.journal) in \(directory)")
            return report
        }
        let hasher = ChainHasher()
        /// The hash the next record must chain from; nil right after an unparseable record.
        var previous: Digest? = Digest.zero
        var head = Digest.zero
        var seen = 0  // well-formed records, valid or not: the index segment names count
        for segment in segments {
            let bytes: [UInt8]
            do {
                bytes = try Posix.readFile(segment.path)
            } catch {
                fault(segment.path, 0, error.description)
                previous = nil
                continue
            }
            if report.faults.isEmpty, segment.index != seen + 1 {
                fault(
                    segment.path, 0,
                    "segment is named for record #\(segment.index) but follows \(seen) records")
            }
            bytes.withUnsafeBufferPointer { buffer in
                var offset = 0
                while offset < buffer.count {
                    switch RecordCodec.parse(buffer, at: offset) {
                    case .record(let payload, let hash, let end):
                        seen += 1
                        if let expected = previous,
                           hasher.chain(expected, UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[payload]))) != hash
                        {
                            fault(
                                segment.path, offset,
                                "hash mismatch (not SHA-256 of the previous hash and this payload)")
                        } else {
                            report.records += 1
                            if report.records == wanted { report.hashAfterRecord = hash.hex }
                            let bytes = Array(buffer[payload])
                            if report.firstPayload == nil { report.firstPayload = bytes }
                            report.lastPayload = bytes
                            head = hash
                        }
                        previous = hash
                        offset = end
                    case .bad(let reason):
                        fault(segment.path, offset, reason)
                        previous = nil
                        offset = RecordCodec.nextLineStart(buffer, after: offset)
                    }
                }
            }
        }
        report.headHashHex = head.hex
        return report
    }
}
