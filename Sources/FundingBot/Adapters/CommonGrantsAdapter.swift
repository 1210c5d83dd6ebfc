import Foundation

/// `commongrants` feeds: the CommonGrants opportunity model (https://commongrants.org), either a
/// list response (`{"items": [...], "paginationInfo": ...}`) or a bare array of opportunities.
///
/// | opportunity | CommonGrants |
/// | --- | --- |
/// | source id | `id`, else `source` |
/// | title, description | `title`, `description` |
/// | status | `status.value` (`forecasted`, `open`, `closed`, `custom` -> `status.customValue`) |
/// | amount | `funding.minAwardAmount` / `funding.maxAwardAmount` (`amount`, `currency`) |
/// | closes | `keyDates.closeDate.date` |
/// | url | `source` |
/// | eligibility | `acceptedApplicantTypes[].value` (or `customValue`) |
/// | funder, area, tags | `customFields.funder` / `.area` / `.tags` (`value`), else the feed's `funder` |
enum CommonGrantsAdapter {
    static func read(_ data: Data) throws -> FeedReading {
        let decoder = JSONDecoder()
        let list: [Lenient<CGOpportunity>]
        if let response = try? decoder.decode(ListResponse.self, from: data) {
            list = response.items
        } else if let bare = try? decoder.decode([Lenient<CGOpportunity>].self, from: data) {
            list = bare
        } else {
            if (try? JSONSerialization.jsonObject(with: data)) == nil { throw FeedFormatError("not JSON") }
            throw FeedFormatError("JSON is neither a CommonGrants list response (items) nor an array of opportunities")
        }
        var reading = FeedReading()
        for (index, entry) in list.enumerated() {
            switch entry {
            case .bad(let why): reading.skipped.append("opportunity \(index + 1): \(why)")
            case .good(let cg):
                guard let id = cg.id?.text ?? cg.source else {
                    reading.skipped.append("opportunity \(index + 1) '\(cg.title)': neither an id nor a source URL")
                    continue
                }
                reading.opportunities.append(cg.opportunity(id: id))
            }
        }
        return reading
    }

    struct ListResponse: Decodable {
        var items: [Lenient<CGOpportunity>]
    }

    /// One array element that may fail to decode without failing the whole list.
    enum Lenient<T: Decodable>: Decodable {
        case good(T)
        case bad(String)

        init(from decoder: Decoder) throws {
            do {
                self = .good(try T(from: decoder))
            } catch let error as DecodingError {
                self = .bad(BotConfig.describe(error))
            }
        }
    }

    struct CGOpportunity: Decodable {
        var id: FlexibleString?
        var title: String
        var description: String?
        var status: Status?
        var funding: Funding?
        var keyDates: KeyDates?
        var source: String?
        var acceptedApplicantTypes: [Status]?
        var customFields: [String: CustomField]?

        struct Status: Decodable {
            var value: String?
            var customValue: String?
            var word: String? { value == "custom" ? (customValue ?? value) : (value ?? customValue) }
        }

        struct Money: Decodable {
            var amount: FlexibleString?
            var currency: String?
        }

        struct Funding: Decodable {
            var minAwardAmount: Money?
            var maxAwardAmount: Money?
            var totalAmountAvailable: Money?
        }

        struct KeyDates: Decodable {
            struct Event: Decodable { var date: String? }
            var closeDate: Event?
        }

        struct CustomField: Decodable {
            var value: FlexibleValue?
        }

        func opportunity(id: String) -> Opportunity {
            let low = funding?.minAwardAmount?.amount.flatMap { Amount.number($0.text) }
            let high = funding?.maxAwardAmount?.amount.flatMap { Amount.number($0.text) }
            let currency = funding?.maxAwardAmount?.currency ?? funding?.minAwardAmount?.currency
            let amount = (low != nil || high != nil) ? Amount(minimum: low, maximum: high, currency: currency) : nil
            let applicants = (acceptedApplicantTypes ?? []).compactMap(\.word).map { $0.replacingOccurrences(of: "_", with: " ") }
            return Opportunity(
                sourceID: id,
                funder: customFields?["funder"]?.value?.whole,
                title: title,
                description: description,
                amount: amount,
                closes: Day.parse(keyDates?.closeDate?.date),
                url: source,
                area: customFields?["area"]?.value?.texts.joined(separator: ", "),
                eligibility: applicants.isEmpty ? nil : applicants.joined(separator: ", "),
                tags: customFields?["tags"]?.value?.texts ?? [],
                status: status?.word?.lowercased())
        }
    }

    /// A string or a number (amounts are decimal strings in CommonGrants, numbers in some feeds).
    struct FlexibleString: Decodable {
        var text: String
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let s = try? container.decode(String.self) { text = s; return }
            if let d = try? container.decode(Decimal.self) { text = "\(d)"; return }
            throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath, debugDescription: "expected a string or number"))
        }
    }

    /// A custom field's value: a string, a number or a list of strings.
    struct FlexibleValue: Decodable {
        var texts: [String]
        /// The value as one string (a funder's name may hold a comma).
        var whole: String? { texts.isEmpty ? nil : texts.joined(separator: ", ") }
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let s = try? container.decode(String.self) {
                texts = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                return
            }
            if let list = try? container.decode([String].self) { texts = list; return }
            if let d = try? container.decode(Decimal.self) { texts = ["\(d)"]; return }
            texts = []
        }
    }
}
