import Foundation
import PartnerlineClient

// An echo bot: joins a room, answers "!echo <text>", leaves on "!quit".
let env = ProcessInfo.processInfo.environment
let account = env["PL_ACCOUNT"] ?? "echo-bot"
let room = env["PL_ROOM"] ?? "rural-east-midlands/general"
let options = ConnectionOptions(host: env["PL_HOST"] ?? "127.0.0.1", port: Int(env["PL_PORT"] ?? "7443") ?? 7443,
                                security: .tls(.knownHosts(file: env["PL_KNOWN_HOSTS"] ?? "known_hosts")))
let connection = try await PartnerlineConnection.connect(options)
try await connection.send(.login(account, password: env["PL_PASSWORD"] ?? "")).checked()
try await connection.send(.join(room)).checked()
try await connection.send(.say(room, "\(account) here: say !echo <text>")).checked()
for await message in connection.messages {
    guard case .event(let event) = message, event.room == room, event.kind == "SAY",
          event.actor != account, let text = event.text else { continue }
    if text.hasPrefix("!echo ") {
        try await connection.send(.say(room, "echo: " + text.dropFirst(6))).checked()
    }
    if text == "!quit" { break }
}
await connection.quit("bye")
