import Foundation
import SwiftCSV

/// `json` and `csv` feeds: records whose fields the feed's `fields` map names.
enum FieldMapAdapter {
    /// A JSON array of objects, or an object holding one under `itemsKey` (default `items`).
    /// Field names may be dotted paths into nested objects (`funding.max`); arrays of strings join
    /// with commas (for tags).
    static func readJSON(_ data: Data, fields: [String: String], itemsKey: String?) throws -> FeedReading {
        let document: Any
        do {
            document = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw FeedFormatError("not JSON: \(error.localizedDescription)")
        }
        let records: [Any]
        if let array = document as? [Any] {
            records = array
        } else if let object = document as? [String: Any], let array = object[itemsKey ?? "items"] as? [Any] {
            records = array
        } else {
            throw FeedFormatError("JSON is neither an array nor an object with an '\(itemsKey ?? "items")' array")
        }
        var reading = FeedReading()
        for (index, record) in records.enumerated() {
            guard let object = record as? [String: Any] else {
                reading.skipped.append("record \(index + 1): not an object")
                continue
            }
            let mapped = MappedRecord(fields: fields) { name in Self.jsonValue(object, path: name) }
            switch mapped.opportunity(position: index + 1) {
            case .success(let opportunity): reading.opportunities.append(opportunity)
            case .failure(let problem): reading.skipped.append(problem.description)
            }
        }
        return reading
    }

    static func jsonValue(_ object: [String: Any], path: String) -> String? {
        var current: Any? = object
        for key in path.split(separator: ".") {
            current = (current as? [String: Any])?[String(key)]
        }
        switch current {
        case let s as String: return s
        case let n as NSNumber: return n.stringValue
        case let list as [Any]: return list.compactMap { $0 as? String ?? ($0 as? NSNumber)?.stringValue }.joined(separator: ",")
        default: return nil
        }
    }

    /// A CSV file with a header row (comma-separated, RFC 4180 quoting), read by SwiftCSV.
    static func readCSV(_ data: Data, fields: [String: String]) throws -> FeedReading {
        guard let text = String(data: data, encoding: .utf8) else { throw FeedFormatError("CSV is not UTF-8") }
        let csv: CSV<Named>
        do {
            csv = try CSV<Named>(string: text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text,
                                 delimiter: .comma, loadColumns: false)
        } catch {
            throw FeedFormatError("CSV: \(error)")
        }
        let header = Set(csv.header)
        let wanted = fields.filter { $0.key != "tags" }.map(\.value)
            + (fields["tags"].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? [])
        let missing = wanted.filter { !header.contains($0) }
        if let title = fields["title"], !header.contains(title) {
            throw FeedFormatError("CSV has no '\(title)' column (the title); columns: \(csv.header.joined(separator: ", "))")
        }
        var reading = FeedReading()
        if !missing.isEmpty { reading.skipped.append("CSV has no column(s) \(missing.sorted().joined(separator: ", "))") }
        for (index, row) in csv.rows.enumerated() {
            let mapped = MappedRecord(fields: fields) { row[$0] }
            switch mapped.opportunity(position: index + 2) {  // +2: the header is line 1
            case .success(let opportunity): reading.opportunities.append(opportunity)
            case .failure(let problem): reading.skipped.append(problem.description)
            }
        }
        return reading
    }
}
