import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// RSS 2.0 and Atom (RFC 4287) feeds, by their standard elements:
///
/// | opportunity | RSS 2.0 item | Atom entry |
/// | --- | --- | --- |
/// | source id | `guid`, else `link` | `id`, else the alternate `link` |
/// | title | `title` | `title` |
/// | description | `description` | `summary`, else `content` |
/// | url | `link` | `link rel="alternate"` (or without rel) |
/// | tags | `category` | `category term=` |
/// | funder | `dc:creator`, else the channel `title` | `author/name`, else the feed `title` |
///
/// Neither format has a closing date or an amount: a feed's `fields` map may name extension
/// elements for them (e.g. `closes: grant:closes`), read by their qualified name.
enum SyndicationAdapter {
    static func read(_ data: Data, format: FeedFormat, fields: [String: String]) throws -> FeedReading {
        let root = try XMLTree.parse(data)
        switch (format, root.name) {
        case (.rss, "rss"):
            guard let channel = root.child("channel") else { throw FeedFormatError("RSS without a channel") }
            return readRSS(channel, fields: fields)
        case (.atom, "feed"):
            return readAtom(root, fields: fields)
        case (.rss, let other), (.atom, let other):
            throw FeedFormatError("expected \(format == .rss ? "an <rss>" : "an Atom <feed>") document, found <\(other)>")
        default:
            throw FeedFormatError("not a syndication format: \(format.rawValue)")
        }
    }

    private static func readRSS(_ channel: XMLTree, fields: [String: String]) -> FeedReading {
        let channelTitle = channel.text("title")
        var reading = FeedReading()
        for (index, item) in channel.children("item").enumerated() {
            let link = item.text("link")
            let extras = MappedRecord(fields: fields) { item.text($0) }
            guard let title = item.text("title") ?? extras.get("title") else {
                reading.skipped.append("item \(index + 1): no title")
                continue
            }
            guard let id = item.text("guid") ?? link else {
                reading.skipped.append("item \(index + 1) '\(title)': neither a guid nor a link")
                continue
            }
            reading.opportunities.append(Opportunity(
                sourceID: id,
                funder: extras.get("funder") ?? item.text("dc:creator") ?? channelTitle,
                title: title,
                description: item.text("description") ?? extras.get("description"),
                amount: extras.amount,
                closes: Day.parse(extras.get("closes")),
                url: link ?? extras.get("url"),
                area: extras.get("area"),
                eligibility: extras.get("eligibility"),
                tags: item.children("category").compactMap { $0.trimmedText } + extras.tags,
                status: extras.get("status")?.lowercased()))
        }
        return reading
    }

    private static func readAtom(_ feed: XMLTree, fields: [String: String]) -> FeedReading {
        let feedTitle = feed.text("title")
        var reading = FeedReading()
        for (index, entry) in feed.children("entry").enumerated() {
            let links = entry.children("link")
            let link = (links.first { $0.attributes["rel"] == nil || $0.attributes["rel"] == "alternate" } ?? links.first)?
                .attributes["href"]
            let extras = MappedRecord(fields: fields) { entry.text($0) }
            guard let title = entry.text("title") else {
                reading.skipped.append("entry \(index + 1): no title")
                continue
            }
            guard let id = entry.text("id") ?? link else {
                reading.skipped.append("entry \(index + 1) '\(title)': neither an id nor a link")
                continue
            }
            reading.opportunities.append(Opportunity(
                sourceID: id,
                funder: extras.get("funder") ?? entry.child("author")?.text("name") ?? feedTitle,
                title: title,
                description: entry.text("summary") ?? entry.text("content"),
                amount: extras.amount,
                closes: Day.parse(extras.get("closes")),
                url: link,
                area: extras.get("area"),
                eligibility: extras.get("eligibility"),
                tags: entry.children("category").compactMap { $0.attributes["term"] ?? $0.attributes["label"] } + extras.tags,
                status: extras.get("status")?.lowercased()))
        }
        return reading
    }
}

/// An XML document as a small tree, built with Foundation's `XMLParser` (libxml2 underneath):
/// element names as written (qualified, `dc:creator`), attributes, and text (CDATA included).
final class XMLTree {
    let name: String
    let attributes: [String: String]
    private(set) var childNodes: [XMLTree] = []
    fileprivate var textValue = ""

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    func child(_ name: String) -> XMLTree? { childNodes.first { $0.name == name } }
    func children(_ name: String) -> [XMLTree] { childNodes.filter { $0.name == name } }

    var trimmedText: String? {
        let trimmed = textValue.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The trimmed text of the first child element `name` (nil if absent or blank).
    func text(_ name: String) -> String? { child(name)?.trimmedText }

    static func parse(_ data: Data) throws -> XMLTree {
        let builder = Builder()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = false
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        let parsed = parser.parse()
        // libxml2 (under swift-corelibs-foundation) can end a truncated document without an error:
        // an element still open at the end is a document cut off.
        if parsed, let open = builder.stack.last {
            throw FeedFormatError("malformed XML: the document ends inside <\(open.name)> (cut off?)")
        }
        guard parsed, let root = builder.root else {
            let line = parser.lineNumber
            let reason = builder.failure ?? parser.parserError.map { "\($0.localizedDescription)" } ?? "no root element"
            throw FeedFormatError("malformed XML near line \(line): \(reason)")
        }
        return root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var root: XMLTree?
        var stack: [XMLTree] = []
        var failure: String?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName: String?, attributes: [String: String] = [:]) {
            let node = XMLTree(name: elementName, attributes: attributes)
            if let parent = stack.last { parent.childNodes.append(node) } else if root == nil { root = node }
            stack.append(node)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.textValue += string
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            stack.last?.textValue += String(decoding: CDATABlock, as: UTF8.self)
        }

        func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
            if failure == nil { failure = parseError.localizedDescription }
        }
    }
}
