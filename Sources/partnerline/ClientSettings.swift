import Foundation
import Yams

/// The config file (`$XDG_CONFIG_HOME/partnerline/config.yaml`, else
/// `~/.config/partnerline/config.yaml`): defaults for the flags, so a volunteer types only
/// `partnerline`. Every key is optional:
///
/// ```yaml
/// server: chat.example.org:7443
/// user: lincoln-womens-aid
/// ca_file: /etc/partnerline/ca.crt       # or known_hosts: PATH (the default), or insecure: true
/// password_file: ~/.config/partnerline/password   # mode 0600
/// scrollback: 2000                       # lines kept per window
/// rooms: [rural-east-midlands/general]   # joined at start (a 1.1 server also lists your rooms)
/// ```
struct ConfigFile: Equatable {
    var server: String?
    var user: String?
    var caFile: String?
    var knownHosts: String?
    var insecure: Bool?
    var plain: Bool?
    var passwordFile: String?
    var scrollback: Int?
    var rooms: [String] = []

    static var directory: String {
        if let xdg = ProcessInfo.processInfo.environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            return xdg + "/partnerline"
        }
        return NSHomeDirectory() + "/.config/partnerline"
    }

    static var defaultPath: String { directory + "/config.yaml" }

    /// Reads `path`; a missing default file is an empty config, a missing named file an error.
    static func load(_ path: String?) throws -> ConfigFile {
        let file = path ?? defaultPath
        guard FileManager.default.fileExists(atPath: file) else {
            if path != nil { throw ClientError("config file \(file) does not exist") }
            return ConfigFile()
        }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ClientError("cannot read config file \(file): \(error.localizedDescription)")
        }
        return try parse(text, name: file)
    }

    static let keys: Set<String> = ["server", "user", "ca_file", "known_hosts", "insecure", "plain", "password_file",
                                    "scrollback", "rooms"]

    static func parse(_ text: String, name: String) throws -> ConfigFile {
        let node: Any?
        do {
            node = try Yams.load(yaml: text)
        } catch {
            throw ClientError("config file \(name) is not valid YAML: \(error)")
        }
        guard let map = node as? [String: Any] else {
            if node == nil { return ConfigFile() }
            throw ClientError("config file \(name) must be a mapping of keys to values")
        }
        if let unknown = map.keys.first(where: { !keys.contains($0) }) {
            throw ClientError("config file \(name): unknown key '\(unknown)' (known: \(keys.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String) throws -> String? {
            guard let value = map[key] else { return nil }
            if let s = value as? String { return expand(s) }
            if let i = value as? Int { return String(i) }
            throw ClientError("config file \(name): \(key) must be text")
        }
        func bool(_ key: String) throws -> Bool? {
            guard let value = map[key] else { return nil }
            guard let b = value as? Bool else { throw ClientError("config file \(name): \(key) must be true or false") }
            return b
        }
        var config = ConfigFile()
        config.server = try string("server")
        config.user = try string("user")
        config.caFile = try string("ca_file")
        config.knownHosts = try string("known_hosts")
        config.insecure = try bool("insecure")
        config.plain = try bool("plain")
        config.passwordFile = try string("password_file")
        if let value = map["scrollback"] {
            guard let n = value as? Int, n >= 10 else { throw ClientError("config file \(name): scrollback must be a number of lines, at least 10") }
            config.scrollback = n
        }
        if let value = map["rooms"] {
            guard let rooms = value as? [String] else { throw ClientError("config file \(name): rooms must be a list of room names") }
            config.rooms = rooms
        }
        return config
    }

    /// `~/` at the start of a path is the home directory.
    static func expand(_ path: String) -> String {
        path.hasPrefix("~/") ? NSHomeDirectory() + String(path.dropFirst(1)) : path
    }
}

/// Where to connect and how to trust it, from the flags over the config file.
struct Endpoint: Equatable {
    var host: String
    var port: Int

    /// `HOST:PORT`, `[IPv6]:PORT`, or `HOST` (port 7443).
    static func parse(_ text: String) throws -> Endpoint {
        var host = text
        var port = 7443
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw ClientError("bad server address '\(text)'") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let p = Int(rest.dropFirst()) else { throw ClientError("bad port in '\(text)'") }
                port = p
            }
        } else if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            host = String(text[..<colon])
            guard let p = Int(text[text.index(after: colon)...]) else { throw ClientError("bad port in '\(text)'") }
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw ClientError("bad server address '\(text)'") }
        return Endpoint(host: host, port: port)
    }

    /// The name used in the known-hosts file.
    var key: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Loopback by name or address: the only place `--plain` may go.
    var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
