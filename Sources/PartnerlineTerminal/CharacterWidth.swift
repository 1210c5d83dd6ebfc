#if canImport(Glibc)
import Glibc
#endif

/// glibc's wcwidth(3); Swift's Glibc module does not show it (wchar.h's wide-character
/// functions are left out), so it is bound by its C symbol name. wchar_t is 32 bits on Linux.
@_silgen_name("wcwidth")
private func systemWcwidth(_ character: Int32) -> Int32

/// How many terminal columns a character takes: 2 for East Asian wide characters and most
/// emoji, 0 for nothing visible, else 1. Asks the C library's `wcwidth`, the same table the
/// terminal (and tmux) on this machine use, so our idea of a row's width agrees with theirs.
/// `wcwidth` needs a UTF-8 `LC_CTYPE`: if the process's locale is not one, `C.UTF-8` is set for
/// `LC_CTYPE` only (numbers and dates are not affected).
public enum CharacterWidth {
    private static let localeReady: Bool = {
        _ = setlocale(LC_CTYPE, "")
        if __ctype_get_mb_cur_max() < 4 {
            _ = setlocale(LC_CTYPE, "C.UTF-8")
        }
        return true
    }()

    /// Columns for one grapheme cluster. A cluster draws in the width of its widest scalar
    /// (a base with combining marks is as wide as its base); an emoji presentation selector
    /// (U+FE0F) makes it 2. Control characters are never drawn (the caller replaces them).
    public static func of(_ character: Character) -> Int {
        if let ascii = character.asciiValue {
            return ascii >= 32 && ascii < 127 ? 1 : 0
        }
        _ = localeReady
        var widest = 0
        for scalar in character.unicodeScalars {
            if scalar.value == 0xFE0F { return 2 }
            let width = Int(systemWcwidth(Int32(bitPattern: scalar.value)))
            widest = max(widest, width)
        }
        return min(widest, 2)
    }

    /// Columns for a string.
    public static func of(_ text: String) -> Int {
        var total = 0
        for character in text { total += of(character) }
        return total
    }

    /// The longest prefix of `text` that fits in `columns` (a wide character that would straddle
    /// the edge is left out) and its width.
    public static func prefix(_ text: String, fitting columns: Int) -> (text: String, width: Int) {
        var width = 0
        var end = text.startIndex
        for index in text.indices {
            let w = of(text[index])
            if width + w > columns { break }
            width += w
            end = text.index(after: index)
        }
        return (String(text[..<end]), width)
    }

    /// Text made safe to draw: control characters (which would move the cursor or change
    /// modes on the real terminal) become U+FFFD, tabs become a space.
    public static func printable(_ text: String) -> String {
        var needsWork = false
        for scalar in text.unicodeScalars where scalar.value < 32 || (scalar.value >= 0x7F && scalar.value < 0xA0) {
            needsWork = true
            break
        }
        guard needsWork else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value == 9 {
                out.append(" ")
            } else if scalar.value < 32 || (scalar.value >= 0x7F && scalar.value < 0xA0) {
                out.append("\u{FFFD}")
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }
}
