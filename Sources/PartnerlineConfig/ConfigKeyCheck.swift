import Yams

/// The keys a config may hold, section by section. Codable ignores a key it does not know, so a
/// misspelled `fsnyc:` would silently leave `fsync` at its default; the config is checked against
/// this shape before it is decoded. Each section's keys come from the `CodingKeys` its decoder
/// reads, so the shape cannot drift from what is decoded.
public indirect enum ConfigShape: Sendable {
    /// A scalar or a list of scalars: nothing inside is a key.
    case value
    case section([String: ConfigShape])
    /// A list whose items each have this shape.
    case list(ConfigShape)

    /// A section with every case of `keys`; `nested` gives the shape of the keys that are not plain values.
    public static func section<Key: CodingKey & CaseIterable & Hashable>(_ keys: Key.Type,
                                                                   _ nested: [Key: ConfigShape] = [:]) -> ConfigShape {
        .section(Dictionary(uniqueKeysWithValues: Key.allCases.map { ($0.stringValue, nested[$0] ?? .value) }))
    }
}

/// A key the config's shape does not have where it was written.
public struct UnknownConfigKey: Equatable, Sendable, CustomStringConvertible {
    /// Where it is, e.g. `journal` or `clusters[0].rooms[2]`; empty at the top level.
    public var section: String
    public var key: String
    /// 1-based line in the file, when known.
    public var line: Int?
    /// The known key of the same section nearest to it, if one is near enough to be a typo.
    public var suggestion: String?
    /// Sections where this exact key does belong, when it was put in the wrong one.
    public var belongsUnder: [String] = []
    /// Every key the section knows, for a message when nothing is near.
    public var known: [String] = []

    public var path: String { section.isEmpty ? key : "\(section).\(key)" }

    public var description: String {
        var text = "unknown key \(path)"
        if let suggestion {
            text += "; did you mean \(suggestion)?"
        } else if !belongsUnder.isEmpty {
            text += "; \(key) belongs under \(belongsUnder.joined(separator: " or "))"
        } else if !known.isEmpty {
            text += "; known here: \(known.joined(separator: ", "))"
        }
        if let line { text += " (line \(line))" }
        return text
    }
}

/// Finds keys the shape does not have. Pure: a YAML tree in, a list out.
public enum ConfigKeyCheck {
    public static func unknownKeys(in node: Node, shape: ConfigShape) -> [UnknownConfigKey] {
        var found: [UnknownConfigKey] = []
        walk(node, shape: shape, path: "", root: shape, into: &found)
        return found
    }

    private static func walk(_ node: Node, shape: ConfigShape, path: String, root: ConfigShape,
                             into found: inout [UnknownConfigKey]) {
        switch (shape, node) {
        case (.section(let keys), .mapping(let mapping)):
            for (keyNode, value) in mapping {
                guard let key = keyNode.string else { continue }   // a non-scalar key: the decoder reports it
                if key == "<<" {
                    // A YAML merge key: the merged mapping's keys belong to this same section.
                    walk(value, shape: shape, path: path, root: root, into: &found)
                    continue
                }
                if let inner = keys[key] {
                    walk(value, shape: inner, path: path.isEmpty ? key : "\(path).\(key)", root: root, into: &found)
                } else {
                    let known = keys.keys.sorted()
                    found.append(UnknownConfigKey(section: path, key: key, line: keyNode.mark?.line,
                                                  suggestion: nearest(to: key, among: known),
                                                  belongsUnder: sections(holding: key, in: root), known: known))
                }
            }
        case (.list(let item), .sequence(let sequence)):
            for (index, element) in sequence.enumerated() {
                walk(element, shape: item, path: "\(path)[\(index)]", root: root, into: &found)
            }
        case (.section, .sequence(let sequence)):
            // A list where one section is expected (merged mappings): each element is that section.
            for element in sequence { walk(element, shape: shape, path: path, root: root, into: &found) }
        default:
            // A scalar where a section is expected, or the reverse: the decoder names the type error.
            break
        }
    }

    /// The known key nearest to `key` when it is near enough to be a typo: the same letters with
    /// `_`/`-` and case ignored, or at most a third of the key's length edits away (at least 2),
    /// counting a swap of neighbouring letters as one edit (`fsnyc` is one edit from `fsync`).
    public static func nearest(to key: String, among known: [String]) -> String? {
        let folded = fold(key)
        if let same = known.first(where: { fold($0) == folded }) { return same }
        let limit = max(2, key.count / 3)
        let scored = known.map { (name: $0, distance: editDistance(key.lowercased(), $0)) }
        guard let best = scored.min(by: { $0.distance < $1.distance || ($0.distance == $1.distance && $0.name < $1.name) }),
              best.distance <= limit else { return nil }
        return best.name
    }

    /// Every section path (with `[]` for list items) whose shape has `key`.
    public static func sections(holding key: String, in shape: ConfigShape) -> [String] {
        var paths: [String] = []
        func visit(_ shape: ConfigShape, _ path: String) {
            switch shape {
            case .value: break
            case .list(let item): visit(item, path + "[]")
            case .section(let keys):
                if keys[key] != nil, !path.isEmpty { paths.append(path) }
                for (name, inner) in keys.sorted(by: { $0.key < $1.key }) {
                    visit(inner, path.isEmpty ? name : "\(path).\(name)")
                }
            }
        }
        visit(shape, "")
        return paths
    }

    private static func fold(_ text: String) -> String {
        text.lowercased().filter { $0 != "_" && $0 != "-" }
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
    /// neighbouring characters each cost one.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var best = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    best = min(best, table[i - 2][j - 2] + 1)
                }
                table[i][j] = best
            }
        }
        return table[a.count][b.count]
    }
}
