// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "chatd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chatd", targets: ["chatd"]),
        .executable(name: "chatbench", targets: ["chatbench"]),
        .executable(name: "chatctl", targets: ["chatctl"]),
        .executable(name: "chatd-imaging", targets: ["chatd-imaging"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Domain types, validation and errors. No I/O.
        .target(name: "ChatCore"),
        // Files that appear whole and survive a crash (write aside, fsync, rename, fsync the folder).
        .target(name: "ChatFiles"),
        // SQLite (GRDB, WAL): migrations, repositories, the single writer with group commit.
        .target(
            name: "ChatStore",
            dependencies: [
                "ChatCore",
                "ChatFiles",
                "CZlib",
                "CZstd",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // The durable job queue's runner: workers per named queue, retries with backoff, dead letters, schedules.
        .target(
            name: "ChatJobs",
            dependencies: [
                "ChatCore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libvips (Debian's libvips-dev), and chatd's C shim over its variadic API (ownership rules in its header).
        .systemLibrary(
            name: "CVips", pkgConfig: "vips", providers: [.apt(["libvips-dev"])]),
        // Zstandard (Debian's libzstd-dev): shipped WAL segments are compressed. zlib (zlib1g-dev) reads the
        // segments an older chatd compressed with it.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CVipsShim", dependencies: ["CVips"]),
        // The image worker: libvips in a process of its own, which chatd starts on demand (ChatMedia's
        // ImagingWorker). A decoder crash ends it, not chatd, and chatd does not carry libvips while idle.
        .executableTarget(name: "chatd-imaging", dependencies: ["CVipsShim"]),
        // Uploads with signed URLs, the libvips image pipeline, video posters through ffmpeg, the media lifecycle.
        .target(
            name: "ChatMedia",
            dependencies: [
                "ChatCore",
                "ChatSpawn",
                "ChatFiles",
                "ChatJobs",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Certificates and keys: read, checked (parse, match, expiry) and made into a server context. Shared by the
        // daemon and `chatctl check`.
        .target(
            name: "ChatTLS",
            dependencies: [
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // Push notifications as values: vendor credentials, JWTs, Web Push encryption, each vendor's requests and
        // answers, who gets a push. No I/O: the server's sender performs the requests (also read by `chatctl check`).
        .target(
            name: "ChatPush",
            dependencies: [
                "ChatCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // An HTTPS server on loopback with its own certificate, HTTP/2 or HTTP/1.1, that records and answers as it is
        // told: the push vendors' stand-in in tests and the push service of `chatbench push`.
        .target(
            name: "ChatLoopback",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The admin API's paths and bodies, shared by the daemon and chatctl.
        .target(name: "ChatAdmin", dependencies: ["ChatCore"]),
        // C library calls that Swift's Glibc module leaves out (malloc_trim).
        .target(name: "CChatd"),
        // Programs run to their end with posix_spawn (ffprobe, ffmpeg, the post-backup command), not Foundation's
        // Process, whose run() crashes now and then on Linux.
        .target(name: "ChatSpawn", dependencies: ["CChatd"]),
        // The WebSocket gateway: sessions as plain NIO handlers, the hub (fan-out, presence, typing).
        .target(
            name: "ChatRealtime",
            dependencies: [
                "ChatCore",
                "CChatd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The configuration: every key, the TOML reader and `CHATD_*` overrides. Its own module, so `chatctl` reads
        // it without linking the HTTP server.
        .target(
            name: "ChatConfiguration",
            dependencies: [
                "ChatCore",
                "ChatStore",
                "ChatRealtime",
                "ChatJobs",
                "ChatPush",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        // HTTP routes, auth, rate limits and the wiring of every service.
        .target(
            name: "ChatServer",
            dependencies: [
                "ChatCore",
                "ChatStore",
                "ChatRealtime",
                "ChatJobs",
                "ChatMedia",
                "ChatPush",
                "ChatSpawn",
                "ChatAdmin",
                "ChatConfiguration",
                "ChatTLS",
                "ChatFiles",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "chatd",
            dependencies: [
                "ChatServer",
                "ChatConfiguration",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The operator's tool: the admin socket's client, and the offline commands. It does not link the server.
        .executableTarget(
            name: "chatctl",
            dependencies: [
                "ChatAdmin",
                "ChatTLS",
                "ChatCore",
                "ChatConfiguration",
                "ChatStore",
                "ChatPush",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "chatbench",
            dependencies: [
                "ChatAdmin",
                "ChatCore",
                "ChatRealtime",
                "ChatStore",
                "ChatServer",
                "ChatJobs",
                "ChatPush",
                "ChatLoopback",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "ChatCoreTests", dependencies: ["ChatCore"]),
        // Web Push encryption against RFC 8291's example, the vendors' requests and answers, who gets a push.
        .testTarget(
            name: "ChatPushTests",
            dependencies: [
                "ChatPush", "ChatCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "ChatConfigurationTests", dependencies: ["ChatConfiguration"]),
        // Sniffing, signatures, file names, the libvips allow-list and blurhash.
        .testTarget(name: "ChatMediaTests", dependencies: ["ChatMedia", "ChatCore"]),
        // The queue's rules as values (dispatch, backoff, schedules) and the runner on a real SQLite store.
        .testTarget(
            name: "ChatJobsTests",
            dependencies: [
                "ChatJobs", "ChatCore", "ChatStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "ChatStoreTests",
            dependencies: ["ChatStore", "ChatCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The session state machine, the hub, the frame assembler and the outbound queue: no sockets, no sleeps.
        .testTarget(
            name: "ChatRealtimeTests",
            dependencies: [
                "ChatRealtime",
                "ChatCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ChatServerTests",
            dependencies: [
                "ChatServer",
                "ChatConfiguration",
                "ChatStore",
                "ChatCore",
                "ChatRealtime",
                "ChatMedia",
                "ChatTLS",
                "ChatAdmin",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                "ChatPush",
                "ChatLoopback",
                "ChatSpawn",
            ]
        ),
    ]
)
