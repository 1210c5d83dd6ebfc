/// One server line as the model reads it: tag, first word, bare tokens, `key=value` options and
/// the free text, split by the contract's "Parsing a server line" rules (quoted values with
/// `\"` and `\\`; ` :` outside quotes starts the text).
///
/// This is the seam to the client library's typed server lines: the model only ever sees this
/// shape, so moving to `PartnerlineClient`'s tokenizer changes this file alone.
public struct IncomingLine: Sendable, Equatable {
    public var tag: String?
    /// `OK`, `ERR`, `EV`, `*`, `PING`, `NOTICE`, `BYE`, `HELLO`, `READ`, ...
    public var word: String
    /// Tokens after the first word that are not options, in order.
    public var arguments: [String]
    public var options: [String: String]
    public var text: String?

    public init(tag: String? = nil, word: String, arguments: [String] = [], options: [String: String] = [:],
                text: String? = nil) {
        self.tag = tag
        self.word = word
        self.arguments = arguments
        self.options = options
        self.text = text
    }

    public init?(_ raw: String) {
        var scalars = Array(raw.unicodeScalars)
        if scalars.last == "\r" { scalars.removeLast() }
        var index = 0
        var tokens: [(bare: String, key: String?, value: String?)] = []
        var text: String?
        var tag: String?
        while index < scalars.count {
            if scalars[index] == " " {
                index += 1
                if index < scalars.count, scalars[index] == ":", !tokens.isEmpty {
                    text = String(String.UnicodeScalarView(scalars[(index + 1)...]))
                    break
                }
                continue
            }
            // One token: up to a space outside quotes.
            var bare = String.UnicodeScalarView()
            var key: String?
            var value = String.UnicodeScalarView()
            var inValue = false
            var quoted = false
            var quoteOpened = false
            while index < scalars.count {
                let s = scalars[index]
                if quoted {
                    if s == "\\", index + 1 < scalars.count {
                        value.append(scalars[index + 1])
                        index += 2
                        continue
                    }
                    if s == "\"" { quoted = false; index += 1; continue }
                    value.append(s)
                    index += 1
                    continue
                }
                if s == " " { break }
                bare.append(s)
                if inValue {
                    if s == "\"" && value.isEmpty && !quoteOpened {
                        quoted = true
                        quoteOpened = true
                    } else {
                        value.append(s)
                    }
                } else if s == "=", key == nil, !bare.isEmpty, bare.count > 1, tokens.count > 0 {
                    key = String(String.UnicodeScalarView(bare.dropLast()))
                    inValue = true
                }
                index += 1
            }
            let bareText = String(bare)
            if tokens.isEmpty && tag == nil && bareText.hasPrefix("@") && bareText.count > 1 {
                tag = String(bareText.dropFirst())
                continue
            }
            if let k = key, k.unicodeScalars.allSatisfy({ ($0 >= "a" && $0 <= "z") || $0 == "_" }) {
                tokens.append((bareText, k, String(value)))
            } else {
                tokens.append((bareText, nil, nil))
            }
        }
        guard let first = tokens.first else { return nil }
        self.tag = tag
        word = first.bare
        arguments = []
        options = [:]
        for token in tokens.dropFirst() {
            if let key = token.key, let value = token.value {
                options[key] = value
            } else {
                arguments.append(token.bare)
            }
        }
        self.text = text
    }

    public func option(_ key: String) -> String? { options[key] }
}
