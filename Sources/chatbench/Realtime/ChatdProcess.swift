import ChatCore
import ChatServer
import ChatStore
import Foundation
import GRDB

/// A real `chatd` (the release build beside this `chatbench`) on a loopback port, with its own data folder and a
/// configuration whose limits let one machine's worth of clients in. Also reads its RSS and CPU time from /proc.
final class ChatdProcess: @unchecked Sendable {
    // @unchecked: used from the scenario's one task.
    let root: URL
    let process = Process()
    private(set) var port = 0
    /// Where `/metrics` is served (0 before `start`).
    private(set) var metricsPort = 0
    static let secret = "chatbench-secret-chatbench-secret-0123456789"

    init() throws {
        root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("chatbench-ws-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    var dataDirectory: URL { root.appendingPathComponent("data") }
    var logFile: URL { root.appendingPathComponent("chatd.log") }

    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("chatd")
    }

    /// Creates users (each with a login session and an access token) and whatever conversations `build` makes,
    /// through the real store, before the server starts.
    func seed(users count: Int, build: (Store, [UserID]) async throws -> Void = { _, _ in }) async throws -> [SeededUser] {
        let store = try Store(directory: dataDirectory.appendingPathComponent("db"), durability: .normal,
                              limits: StoreLimits(maxGroupMembers: 20_000, eventRetentionDays: 30))
        let issuer = await TokenIssuer(secret: Self.secret, accessSeconds: 4 * 3600, refreshSeconds: 86_400)
        var users: [SeededUser] = []
        let chunk = 256
        for start in stride(from: 0, to: count, by: chunk) {
            let made = try await withThrowingTaskGroup(of: SeededUser.self) { group in
                for index in start..<min(count, start + chunk) {
                    group.addTask {
                        let user = try await store.accounts.createUser(handle: "u\(index)", displayName: "User \(index)", passwordHash: nil)
                        let refresh = issuer.newRefreshToken()
                        let session = try await store.accounts.startSession(
                            user: user.id, refreshTokenHash: refresh.hash, expiresAt: issuer.refreshExpiry())
                        return SeededUser(index: index, id: user.id, token: try await issuer.accessToken(user: user.id, session: session))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            users += made
        }
        users.sort { $0.index < $1.index }
        try await build(store, users.map(\.id))
        try await store.checkpoint()
        try store.close()
        return users
    }

    /// Starts chatd; `extra` is appended to its configuration (whole TOML tables).
    func start(extra: String = "") async throws {
        let config = root.appendingPathComponent("chatd.toml")
        try """
        [server]
        host = "127.0.0.1"
        port = 0
        [metrics]
        port = 0
        [storage]
        data_dir = "\(dataDirectory.path)"
        [auth]
        jwt_secret = "\(Self.secret)"
        access_token_seconds = 14400
        [limits]
        max_group_members = 20000
        messages_per_minute = 1000000
        auth_requests_per_minute = 1000000
        [realtime]
        frames_per_second = 100000
        frame_burst = 100000
        user_frames_per_second = 1000000
        max_connections_per_ip = 1000000
        max_outbound_bytes = 4194304
        [log]
        level = "notice"
        \(extra)
        """.write(to: config, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)
        process.executableURL = Self.executable
        process.arguments = ["--config", config.path]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
            func address(after message: String) -> Int? {
                guard
                    let range = text.range(
                        of: #"msg="\#(message)" address=https?://127\.0\.0\.1:\d+"#, options: .regularExpression)
                else { return nil }
                return Int(text[range].split(separator: ":").last ?? "")
            }
            if let port = address(after: "chatd listening"), let metricsPort = address(after: "metrics served") {
                self.port = port
                self.metricsPort = metricsPort
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("chatd did not start; see \(logFile.path)")
    }

    /// The daemon's database, read-only, for figures the daemon recorded.
    func database() throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        return try DatabaseQueue(
            path: dataDirectory.appendingPathComponent("db/chatd.sqlite").path, configuration: configuration)
    }

    /// Resident memory in KiB (VmRSS).
    var rssKB: Int { memoryKB("VmRSS") }

    /// One memory figure of /proc/PID/status in KiB: `VmRSS`, or its parts `RssAnon` (heap, stacks) and `RssFile`
    /// (the binary's and libraries' pages touched so far).
    func memoryKB(_ field: String) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// Open file descriptors (sockets, the database, the log): the entries of /proc/PID/fd.
    var openDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/fd").count) ?? -1
    }

    /// User plus system CPU time, in microseconds.
    var cpuMicroseconds: Int { processCPUMicroseconds(process.processIdentifier) }

    /// Time on a CPU of all the process's threads, in nanoseconds (the scheduler's own count in
    /// /proc/PID/task/*/schedstat, finer than the clock ticks of `cpuMicroseconds`; threads that ended are not in it).
    var cpuNanoseconds: Int {
        let tasks = "/proc/\(process.processIdentifier)/task"
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        return threads.reduce(0) { total, thread in
            let stat = (try? String(contentsOfFile: "\(tasks)/\(thread)/schedstat", encoding: .utf8)) ?? ""
            return total + (Int(stat.split(separator: " ").first ?? "") ?? 0)
        }
    }

    /// One scrape of `/metrics`.
    func metrics() throws -> ServerMetrics {
        let (status, body) = try BlockingHTTP(port: metricsPort).exchange(
            "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", body: nil)
        guard status == 200 else { throw BenchError("GET /metrics answered \(status)") }
        return ServerMetrics(String(decoding: body, as: UTF8.self))
    }

    /// SIGTERM and wait, then remove the data.
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: root)
    }
}

struct SeededUser: Sendable {
    var index: Int
    var id: UserID
    var token: String
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// User plus system CPU time of a process, in microseconds (from /proc/PID/stat).
func processCPUMicroseconds(_ pid: Int32) -> Int {
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    // Fields after the command name (which may contain spaces) start after the last ')'.
    guard let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12 else { return 0 }
    let ticks = (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    return ticks * 1_000_000 / sysconf(Int32(_SC_CLK_TCK))
}
