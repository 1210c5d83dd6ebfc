import Foundation
import PartnerlineTestSupport
import Testing

/// The full-screen client in tmux against the real server binary: what a volunteer sees.
@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: TmuxSession.available))
struct InteractiveTests {
    /// Log in, two rooms, an event from a second client lands in its window with an unread count,
    /// switching, a need shown styled, a multi-line paste held for a yes, a resize, and /quit
    /// giving the terminal back.
    @Test func aSessionInTwoRooms() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path)
        _ = try server.client("lincoln-aid", register: true)
        let boston = try server.client("boston-mind", register: true)
        try boston.command("JOIN rural-east-midlands/general")
        try boston.command("JOIN rural-east-midlands/purchasing")

        let tmux = try TmuxSession(arguments: ["--server", server.address, "--user", "lincoln-aid",
                                               "--ca-file", server.certificatePath], home: dir.path)
        try tmux.waitFor("[Win: 1:server]")
        try tmux.type("/join rural-east-midlands/general", then: "Enter")
        try tmux.waitFor("2:general")
        try tmux.type("/join rural-east-midlands/purchasing", then: "Enter")
        try tmux.waitFor("3:purchasing")
        try tmux.waitFor(" 3:rural-east-midlands/purchasing - Buy together")

        // An event in the room not shown: its window gets an unread count, not the screen.
        try boston.command("SAY rural-east-midlands/general :Village hall free on Friday 界🎉")
        try tmux.waitFor("2:general(1)")
        #expect(!(try tmux.screen()).contains("Village hall free"))
        try tmux.press("M-2")
        var screen = try tmux.waitFor("<boston-mind> Village hall free on Friday 界🎉")
        #expect(screen.contains(" 2:rural-east-midlands/general - Introductions and news"))
        #expect(!screen.contains("2:general(1)"))
        try tmux.press("C-n")
        try tmux.waitFor(" 3:rural-east-midlands/purchasing")
        try tmux.press("C-p")
        try tmux.waitFor(" 2:rural-east-midlands/general")

        // A need: its own label, colour, and an id that can be typed.
        try tmux.type("/need tags=minibus until=2026-12-31 A minibus for Tuesday outreach", then: "Enter")
        screen = try tmux.waitFor("NEED N1 lincoln-aid")
        let styled = try tmux.screen(escapes: true)
        let needRow = styled.split(separator: "\n").first { $0.contains("NEED") }.map(String.init) ?? ""
        #expect(needRow.contains("33m"), "the NEED label is yellow: \(needRow.debugDescription)")
        try tmux.type("/show n", then: "Tab")
        try tmux.waitFor("/show N1")

        // A paste of several lines is held until the user says yes.
        try tmux.press("C-u")
        try tmux.paste("first pasted line\nsecond pasted line")
        screen = try tmux.waitFor("[send 2 pasted lines? y/n]")
        #expect(!screen.contains("<lincoln-aid> first pasted line"))
        try tmux.press("y")
        try tmux.waitFor("<lincoln-aid> second pasted line")
        #expect(try boston.command("HISTORY rural-east-midlands/general limit=5").contains { $0.contains(":second pasted line") })

        // Resize: everything is laid out again for the new size.
        try tmux.resize(columns: 50, rows: 14)
        screen = try tmux.waitFor("the 14-row layout") { text in
            let rows = text.split(separator: "\n", omittingEmptySubsequences: false)
            return rows.count >= 14 && rows[12].contains("[Win:") && rows[13].hasPrefix("[general]")
        }
        for row in screen.split(separator: "\n") { #expect(row.count <= 50) }

        try tmux.type("/quit", then: "Enter")
        screen = try tmux.waitFor("EXITED=0")
        #expect(!screen.contains("[Win:"), "the alternate screen is left on exit")
        server.stop()
    }

    /// The server comes back with an older data dir (a restored backup): the room's window says it
    /// was reset, starts again from what the server has, and goes on with new events.
    @Test func aRestoredServerIsShownAsAResetRoom() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path)
        let lincoln = try server.client("lincoln-aid", register: true)
        try lincoln.command("JOIN rural-east-midlands/general")
        let boston = try server.client("boston-mind", register: true)
        try boston.command("JOIN rural-east-midlands/general")
        for n in 1...2 { try boston.command("SAY rural-east-midlands/general :kept number \(n)") }
        let port = server.tlsPort
        server.stop()
        let files = FileManager.default
        try files.copyItem(atPath: server.dataDir, toPath: dir.path + "/backup")
        try server.start(port: port)

        let tmux = try TmuxSession(arguments: ["--server", server.address, "--user", "lincoln-aid",
                                               "--ca-file", server.certificatePath], home: dir.path, rows: 40)
        try tmux.waitFor("2:general")
        try tmux.type("/win 2", then: "Enter")
        try tmux.waitFor("<boston-mind> kept number 2")
        let poster = try server.client("boston-mind")
        for n in 1...3 { try poster.command("SAY rural-east-midlands/general :lost number \(n)") }
        try tmux.waitFor("<boston-mind> lost number 3")

        server.stop()
        try files.removeItem(atPath: server.dataDir)
        try files.copyItem(atPath: dir.path + "/backup", toPath: server.dataDir)
        try server.start(port: port)
        // The window is started again (so the away and back lines before it go with the rest).
        try tmux.waitFor("this room was reset on the server: its newest event is 2, this window had 5", timeout: 60)
        let after = try server.client("boston-mind")
        try after.command("SAY rural-east-midlands/general :after the restore")
        let screen = try tmux.waitFor("<boston-mind> after the restore")
        func count(_ text: String) -> Int { screen.components(separatedBy: text).count - 1 }
        #expect(count("lost number") == 0, "the window starts again from the server's events")
        #expect(count("kept number 1") == 1 && count("kept number 2") == 1)
        let order = ["this room was reset", "kept number 2", "after the restore"].compactMap { screen.range(of: $0)?.lowerBound }
        #expect(order.count == 3 && order == order.sorted())
        #expect(!screen.contains("[away:"))
        try tmux.type("/quit", then: "Enter")
        try tmux.waitFor("EXITED=0")
        server.stop()
    }

    /// The connection is cut while another member posts; the client shows it is away, comes back,
    /// and shows every missed event exactly once, in order.
    @Test func aDroppedConnectionCatchesUpWithoutGapsOrRepeats() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path)
        _ = try server.client("lincoln-aid", register: true)
        let boston = try server.client("boston-mind", register: true)
        try boston.command("JOIN rural-east-midlands/general")
        let proxy = try CuttableProxy(upstreamPort: server.tlsPort)
        let tmux = try TmuxSession(arguments: ["--server", "127.0.0.1:\(proxy.port)", "--user", "lincoln-aid",
                                               "--ca-file", server.certificatePath], home: dir.path, rows: 40)
        try tmux.waitFor("[Win: 1:server]")
        try tmux.type("/join rural-east-midlands/general", then: "Enter")
        try tmux.waitFor("2:general")
        try boston.command("SAY rural-east-midlands/general :before the drop")
        try tmux.waitFor("<boston-mind> before the drop")

        proxy.cut(refuse: true)
        try tmux.waitFor("[away:")
        for n in 1...5 { try boston.command("SAY rural-east-midlands/general :missed number \(n)") }
        proxy.resume()
        try tmux.waitFor("reconnected")
        let screen = try tmux.waitFor("missed number 5", timeout: 60)
        try boston.command("SAY rural-east-midlands/general :after the return")
        let final = try tmux.waitFor("<boston-mind> after the return")
        _ = screen
        func count(_ text: String) -> Int { final.components(separatedBy: text).count - 1 }
        #expect(count("before the drop") == 1)
        for n in 1...5 { #expect(count("missed number \(n)") == 1, "missed number \(n) shown \(count("missed number \(n)")) times") }
        // In order.
        let positions = (1...5).compactMap { final.range(of: "missed number \($0)")?.lowerBound }
        #expect(positions == positions.sorted())
        #expect(!final.contains("[away:"))
        try tmux.type("/quit", then: "Enter")
        try tmux.waitFor("EXITED=0")
        proxy.stop()
        server.stop()
    }

    /// A server whose certificate changed is refused in the full-screen mode too, before any
    /// screen is drawn, naming both fingerprints; exit status 2.
    @Test func aChangedCertificateIsRefused() throws {
        let dir = TempDir.cli()
        let server = try TestServer(in: dir.path)
        _ = try server.client("lincoln-aid", register: true)
        let knownHosts = dir.path + "/known_hosts"
        let first = try runClient(["--server", server.address, "--user", "lincoln-aid", "--known-hosts", knownHosts,
                                   "--send", "CLUSTERS"], home: dir.path)
        #expect(first.status == 0)
        let port = server.tlsPort
        server.stop()
        try FileManager.default.removeItem(atPath: server.dataDir + "/tls")
        try server.start(port: port)
        let tmux = try TmuxSession(arguments: ["--server", server.address, "--user", "lincoln-aid",
                                               "--known-hosts", knownHosts], home: dir.path, columns: 120)
        let screen = try tmux.waitFor("EXITED=2")
        #expect(screen.contains("REFUSED"))
        #expect(screen.contains("presented: SHA-256"))
        #expect(screen.contains("trusted:   SHA-256"))
        server.stop()
    }
}
