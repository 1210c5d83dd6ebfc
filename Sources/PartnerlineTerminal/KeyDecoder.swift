/// A key press (or a paste) read from the terminal.
public enum Key: Sendable, Equatable {
    case character(Character)
    case enter, tab, backTab, backspace, delete, escape
    case left, right, up, down, home, end, pageUp, pageDown
    /// Ctrl + a letter (lower case), other than those with their own case (Tab, Enter, Backspace).
    case control(Character)
    /// Alt (Meta) + a character, sent as ESC then the character.
    case alt(Character)
    case altLeft, altRight, controlLeft, controlRight
    /// Text between the bracketed-paste markers (ESC [200~ ... ESC [201~), line ends as "\n".
    case paste(String)
    /// A sequence we do not know; ignored by the editor.
    case unknown
}

/// Decodes terminal input bytes into keys: UTF-8 text, C0 control keys, CSI and SS3 escape
/// sequences (xterm, VT220 and rxvt forms), Alt as an ESC prefix, and bracketed paste. Input may
/// arrive split anywhere: bytes of an unfinished sequence wait for the next `feed`. A lone ESC
/// is ambiguous (Escape, or the start of a sequence) until `flushPending()` is called after a
/// short quiet time, as every terminal program does.
public struct KeyDecoder: Sendable {
    private var pending: [UInt8] = []
    private var pasting = false
    private var pasteBytes: [UInt8] = []

    private static let pasteStart: [UInt8] = Array("\u{1B}[200~".utf8)
    private static let pasteEnd: [UInt8] = Array("\u{1B}[201~".utf8)

    public init() {}

    /// True when bytes wait for the rest of a sequence (the caller then sets a short timer).
    public var hasPending: Bool { !pending.isEmpty && !pasting }

    public mutating func feed(_ bytes: [UInt8]) -> [Key] {
        pending.append(contentsOf: bytes)
        var keys: [Key] = []
        while true {
            if pasting {
                guard let end = Self.find(Self.pasteEnd, in: pending) else {
                    // Keep a possible partial end marker back.
                    let keep = min(pending.count, Self.pasteEnd.count - 1)
                    pasteBytes.append(contentsOf: pending[0..<(pending.count - keep)])
                    pending.removeFirst(pending.count - keep)
                    return keys
                }
                pasteBytes.append(contentsOf: pending[0..<end])
                pending.removeFirst(end + Self.pasteEnd.count)
                pasting = false
                var text = String(decoding: pasteBytes, as: UTF8.self)
                text = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
                keys.append(.paste(text))
                pasteBytes = []
                continue
            }
            guard !pending.isEmpty else { return keys }
            switch decodeOne(pending) {
            case .need:
                return keys
            case .key(let key, let used):
                pending.removeFirst(used)
                keys.append(key)
            case .pasteStart(let used):
                pending.removeFirst(used)
                pasting = true
            }
        }
    }

    /// After a quiet time: what waits is taken as typed (a lone ESC is Escape; a cut UTF-8
    /// sequence is dropped).
    public mutating func flushPending() -> [Key] {
        guard !pasting, !pending.isEmpty else { return [] }
        var keys: [Key] = []
        if pending[0] == 0x1B {
            keys.append(.escape)
            pending.removeFirst()
            keys += feed([])
        }
        if !pending.isEmpty && !hasCompleteStart(pending) {
            pending.removeAll()
        }
        return keys
    }

    private func hasCompleteStart(_ bytes: [UInt8]) -> Bool {
        if case .need = decodeOne(bytes) { return false }
        return true
    }

    private enum Step {
        case need
        case key(Key, Int)
        case pasteStart(Int)
    }

    private func decodeOne(_ b: [UInt8]) -> Step {
        let first = b[0]
        switch first {
        case 0x1B:
            guard b.count > 1 else { return .need }
            if b[1] == UInt8(ascii: "[") { return csi(b) }
            if b[1] == UInt8(ascii: "O") {
                guard b.count > 2 else { return .need }
                return .key(ss3(b[2]), 3)
            }
            if b[1] == 0x1B { return .key(.escape, 1) }
            // Alt + key: ESC then one (possibly multi-byte) character or a control key.
            switch decodeOne(Array(b[1...])) {
            case .need: return .need
            case .pasteStart: return .key(.escape, 1)
            case .key(let key, let used):
                switch key {
                case .character(let c): return .key(.alt(c), used + 1)
                case .backspace: return .key(.control("w"), used + 1)   // Alt-Backspace: word delete
                default: return .key(key, used + 1)
                }
            }
        case 0x0D, 0x0A: return .key(.enter, 1)
        case 0x09: return .key(.tab, 1)
        case 0x7F, 0x08: return .key(.backspace, 1)
        case 0x01...0x1A: return .key(.control(Character(UnicodeScalar(first + 0x60))), 1)
        case 0x00, 0x1C...0x1F: return .key(.unknown, 1)
        default:
            let length = first < 0x80 ? 1 : first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : first >= 0xC0 ? 2 : 1
            guard b.count >= length else { return .need }
            let text = String(decoding: b[0..<length], as: UTF8.self)
            return .key(text.first.map { .character($0) } ?? .unknown, length)
        }
    }

    private func ss3(_ final: UInt8) -> Key {
        switch final {
        case UInt8(ascii: "A"): return .up
        case UInt8(ascii: "B"): return .down
        case UInt8(ascii: "C"): return .right
        case UInt8(ascii: "D"): return .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        default: return .unknown
        }
    }

    /// ESC [ parameters final: parameters are digits and ';', the final byte is 0x40-0x7E.
    private func csi(_ b: [UInt8]) -> Step {
        var index = 2
        while index < b.count, (0x30...0x3F).contains(b[index]) || (0x20...0x2F).contains(b[index]) { index += 1 }
        guard index < b.count else { return b.count > 64 ? .key(.unknown, b.count) : .need }
        let final = b[index]
        let used = index + 1
        let parameters = String(decoding: b[2..<index], as: UTF8.self).split(separator: ";").map { Int($0) ?? 0 }
        let modifier = parameters.count > 1 ? parameters[1] : 1
        switch final {
        case UInt8(ascii: "A"): return .key(.up, used)
        case UInt8(ascii: "B"): return .key(.down, used)
        case UInt8(ascii: "C"): return .key(modifier == 5 ? .controlRight : modifier == 3 ? .altRight : .right, used)
        case UInt8(ascii: "D"): return .key(modifier == 5 ? .controlLeft : modifier == 3 ? .altLeft : .left, used)
        case UInt8(ascii: "H"): return .key(.home, used)
        case UInt8(ascii: "F"): return .key(.end, used)
        case UInt8(ascii: "Z"): return .key(.backTab, used)
        case UInt8(ascii: "~"):
            switch parameters.first ?? 0 {
            case 1, 7: return .key(.home, used)
            case 4, 8: return .key(.end, used)
            case 3: return .key(.delete, used)
            case 5: return .key(.pageUp, used)
            case 6: return .key(.pageDown, used)
            case 200: return .pasteStart(used)
            default: return .key(.unknown, used)
            }
        default: return .key(.unknown, used)
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return start }
        }
        return nil
    }
}
