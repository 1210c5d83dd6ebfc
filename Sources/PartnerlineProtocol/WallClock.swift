// The only file of this module that imports Foundation: reading the wall clock is not pure.
import Foundation

enum WallClock {
    static func nowMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
