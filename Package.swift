// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Partnerline",
    products: [
        .executable(name: "partnerline-server", targets: ["partnerline-server"]),
        .executable(name: "partnerline-bench", targets: ["partnerline-bench"]),
        .library(name: "PartnerlineClient", targets: ["PartnerlineClient"]),
        .executable(name: "partnerline-fundingbot", targets: ["partnerline-fundingbot"]),
        .executable(name: "partnerline", targets: ["partnerline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/swiftcsv/SwiftCSV", from: "0.10.0"),
    ],
    targets: [
        // The system OpenSSL 3 (libssl-dev), plus shim.h for the macros Swift cannot import.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // Line framing, command grammar, reply/event encoding, names. No I/O.
        .target(name: "PartnerlineProtocol"),
        // The domain: accounts, clusters, rooms, events; state = fold(events). No I/O.
        .target(name: "PartnerlineCore", dependencies: ["PartnerlineProtocol"]),
        // Config files checked against the keys their decoders read (a typo is an error, not a default).
        .target(name: "PartnerlineConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Journal files: record codec with checksums and a hash chain, recovery, group commit.
        .target(name: "PartnerlineStore", dependencies: ["COpenSSL"]),
        // OpenSSL + Dispatch: TLS context, listener, connections, a blocking client.
        // <sys/epoll.h>: one epoll set per I/O slot (Swift's Glibc module lacks it).
        .systemLibrary(name: "CEpoll"),
        .target(name: "PartnerlineTransport", dependencies: ["COpenSSL", "CEpoll"]),
        // The service: config, sessions, command dispatch, cluster shards, fan-out.
        .target(
            name: "PartnerlineServer",
            dependencies: [
                "PartnerlineProtocol", "PartnerlineCore", "PartnerlineStore", "PartnerlineTransport", "COpenSSL",
                "PartnerlineConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "partnerline-server",
            dependencies: [
                "PartnerlineServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Client side: line splitting, server-line parsing, command encoding (bots, the bench).
        .target(name: "PartnerlineClient", dependencies: ["PartnerlineProtocol", "PartnerlineTransport"]),
        // The ~20-line bot of the client library's DocC catalog, built so the docs cannot rot
        // (PartnerlineClientTests checks the article shows exactly this file and runs it).
        .executableTarget(name: "partnerline-echo-bot", dependencies: ["PartnerlineClient"]),
        // The benchmark scenarios (load clients, server launcher, /proc probes, reports).
        .target(
            name: "PartnerlineBench",
            dependencies: [
                "PartnerlineClient", "PartnerlineTransport", "PartnerlineCore", "PartnerlineStore", "PartnerlineProtocol",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "partnerline-bench",
            // partnerline-server too, so `swift run partnerline-bench` builds the server it starts.
            dependencies: ["PartnerlineBench", "partnerline-server", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // The funding bot's stages: config, fetch, adapters per format, routes, alerts, state, poster.
        .target(
            name: "FundingBot",
            dependencies: [
                "PartnerlineClient", "PartnerlineConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "SwiftCSV", package: "SwiftCSV"),
            ]
        ),
        .executableTarget(
            name: "partnerline-fundingbot",
            dependencies: [
                "FundingBot",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the test targets share: child processes, the real server binary as a subprocess,
        // temp dirs, the IPv6 probe. A plain target under Tests/, not a product, importing no test
        // framework, so shipped code never links it.
        .target(name: "PartnerlineTestSupport", path: "Tests/PartnerlineTestSupport"),
        .testTarget(
            name: "FundingBotTests",
            dependencies: ["FundingBot", "PartnerlineClient", "PartnerlineTransport", "PartnerlineTestSupport", "partnerline-fundingbot", "partnerline-server"]
        ),
        // The terminal client's pure parts: model, line editor, completion, wrapping, key decoding,
        // screen composer and diff. No I/O.
        .target(name: "PartnerlineTerminal", dependencies: ["PartnerlineProtocol"]),
        // The terminal client: arguments, config, terminal set-up and restore, the event loop.
        .executableTarget(
            name: "partnerline",
            dependencies: [
                "PartnerlineTerminal", "PartnerlineClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(name: "PartnerlineTerminalTests", dependencies: ["PartnerlineTerminal"]),
        .testTarget(
            name: "PartnerlineCLITests",
            dependencies: ["PartnerlineTransport", "PartnerlineTestSupport", "partnerline", "partnerline-server"]
        ),
        .testTarget(name: "PartnerlineProtocolTests", dependencies: ["PartnerlineProtocol"]),
        .testTarget(name: "PartnerlineCoreTests", dependencies: ["PartnerlineCore"]),
        .testTarget(name: "PartnerlineStoreTests", dependencies: ["PartnerlineStore"]),
        .testTarget(name: "PartnerlineTransportTests", dependencies: ["PartnerlineTransport", "PartnerlineTestSupport"]),
        .testTarget(
            name: "PartnerlineServerTests",
            dependencies: ["PartnerlineServer", "PartnerlineConfig", "PartnerlineTransport", "PartnerlineProtocol", "PartnerlineStore", "PartnerlineTestSupport", "partnerline-server"]
        ),
        // The client library against the writer, scripted lines and the real server binary over TLS.
        .testTarget(
            name: "PartnerlineClientTests",
            dependencies: ["PartnerlineClient", "PartnerlineTransport", "PartnerlineTestSupport", "partnerline-server", "partnerline-echo-bot"]
        ),
        .testTarget(
            name: "PartnerlineBenchTests",
            dependencies: ["PartnerlineBench", "PartnerlineClient", "partnerline-server", "partnerline-bench"]
        ),
    ]
)
