import Foundation

/// Where opportunities go: a room of a cluster, and what an opportunity must show to go there.
/// An opportunity matches a route when any one keyword, area or tag matches; a route with none of
/// the three takes every opportunity (a cluster that wants all alerts).
public struct Route: Sendable, Equatable {
    public var cluster: String
    public var room: String
    public var keywords: [String]
    public var areas: [String]
    public var tags: [String]

    public init(cluster: String, room: String? = nil, keywords: [String] = [], areas: [String] = [], tags: [String] = []) {
        self.cluster = cluster
        self.room = room ?? "\(cluster)/funding"
        self.keywords = keywords
        self.areas = areas
        self.tags = tags
    }

    public var takesEverything: Bool { keywords.isEmpty && areas.isEmpty && tags.isEmpty }
}

/// Why an opportunity matched a route: each reason is one keyword, area or tag and where it was seen.
public struct RouteMatch: Sendable, Equatable {
    public var routeIndex: Int
    public var route: Route
    public var reasons: [String]
}

/// The routing decision for one opportunity: the rooms it goes to and the explanation. Pure.
public struct RoutingDecision: Sendable, Equatable {
    public var matches: [RouteMatch]
    /// Rooms to post into, at most one per cluster: the server keeps one alert per `ref=` per
    /// cluster, so a second room of the same cluster would only get a duplicate answer.
    public var rooms: [String]
    /// Routes that matched but whose cluster already gets the alert in another room.
    public var shadowed: [(routeIndex: Int, room: String, cluster: String)]

    public static func == (a: RoutingDecision, b: RoutingDecision) -> Bool {
        a.matches == b.matches && a.rooms == b.rooms
            && a.shadowed.map { "\($0.routeIndex) \($0.room)" } == b.shadowed.map { "\($0.routeIndex) \($0.room)" }
    }
}

public enum Router {
    public static func route(_ opportunity: Opportunity, through routes: [Route]) -> RoutingDecision {
        let textWords = Words(opportunity.title, opportunity.description, opportunity.eligibility)
        let areaWords = Words(opportunity.area, opportunity.eligibility)
        let carried = Set(opportunity.tags.map(TagCleaner.clean).compactMap { $0 })
        var matches: [RouteMatch] = []
        for (index, route) in routes.enumerated() {
            var reasons: [String] = []
            if route.takesEverything { reasons.append("the route takes every opportunity") }
            for keyword in route.keywords where textWords.contains(phrase: keyword) {
                reasons.append("keyword '\(keyword)' in the title, description or eligibility")
            }
            for area in route.areas where areaWords.contains(phrase: area) {
                reasons.append("area '\(area)' in the area or eligibility")
            }
            for tag in route.tags {
                if let cleaned = TagCleaner.clean(tag), carried.contains(cleaned) { reasons.append("tag '\(cleaned)'") }
            }
            if !reasons.isEmpty { matches.append(RouteMatch(routeIndex: index, route: route, reasons: reasons)) }
        }
        var rooms: [String] = []
        var clusterRoom: [String: String] = [:]
        var shadowed: [(Int, String, String)] = []
        for match in matches {
            if let taken = clusterRoom[match.route.cluster] {
                if taken != match.route.room { shadowed.append((match.routeIndex, match.route.room, match.route.cluster)) }
                continue
            }
            clusterRoom[match.route.cluster] = match.route.room
            rooms.append(match.route.room)
        }
        return RoutingDecision(matches: matches, rooms: rooms, shadowed: shadowed)
    }
}

/// Text as a list of lower-case words (letters and digits; accents folded), so a keyword matches
/// whole words only: "art" is not found in "partnership", "mental health" is a two-word phrase.
struct Words {
    let words: [String]

    init(_ texts: String?...) {
        var all: [String] = []
        for text in texts.compactMap({ $0 }) { all += Self.split(text) }
        words = all
    }

    static func split(_ text: String) -> [String] {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: Locale(identifier: "en_GB"))
            .split(whereSeparator: { !($0.isLetter || $0.isNumber) })
            .map(String.init)
    }

    func contains(phrase: String) -> Bool {
        let needle = Self.split(phrase)
        guard !needle.isEmpty, needle.count <= words.count else { return false }
        for start in 0...(words.count - needle.count) where words[start] == needle[0] {
            if Array(words[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }
}
