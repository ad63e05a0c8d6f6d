import ChatConfiguration
import ChatCore
import Foundation
import GRDB
import Testing

@testable import ChatServer

/// `chatctl backup` and `chatctl restore` against a live daemon, then offline: what a restore finds.
@Suite struct BackupCommandTests {
    /// A configuration with snapshots and a WAL archive in its data folder, as a file chatctl reads too.
    static func backupConfig(postCommand: String = "") throws -> (ChatConfig, String) {
        let folder = temporaryDirectory()
        let toml = """
            [server]
            port = 0
            [metrics]
            port = 0
            [storage]
            data_dir = "\(folder.path)"
            [auth]
            bcrypt_cost = 4
            jwt_secret = "\(testSecret)"
            [limits]
            auth_requests_per_minute = 100000
            messages_per_minute = 100000
            [backup]
            time = ""
            wal_directory = "\(folder.appendingPathComponent("wal").path)"
            ship_seconds = 1
            post_command = '\(postCommand)'
            """
        let file = folder.appendingPathComponent("chatd.toml").path
        try toml.write(toFile: file, atomically: true, encoding: .utf8)
        return (try ConfigReader.load(file: file, environment: [:]), file)
    }

    /// Sends `count` messages at once; returns their texts once all are acknowledged.
    static func send(_ api: API, _ user: TestUser, _ conversation: Int64, _ prefix: String, _ count: Int) async throws
        -> Set<String>
    {
        try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<count {
                group.addTask {
                    let reply = try await api.send(user, conversation, "\(prefix)\(index)")
                    #expect(reply.status == 201)
                    return "\(prefix)\(index)"
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
    }

    static func texts(_ config: ChatConfig) throws -> Set<String> {
        let file = URL(fileURLWithPath: config.storage.dataDirectory).appendingPathComponent("db/chatd.sqlite")
        let queue = try DatabaseQueue(path: file.path)
        defer { try? queue.close() }
        return Set(try queue.read { try String.fetchAll($0, sql: "SELECT body FROM messages") })
    }

    @Test func restoreAtAMomentFindsTheMessagesAcknowledgedBeforeItAndNoneAfter() async throws {
        let (config, file) = try Self.backupConfig()
        let moment = try await withServer(config, keepData: true) { api -> Millis in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            _ = try await Self.send(api, alice, direct, "a", 20)
            let created = try await ChatctlTests.chatctl(["backup", "create", "--json", "--socket", socket])
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.json["messages"].int == 20)
            _ = try await Self.send(api, bob, direct, "b", 20)
            let moment = Clock.nowMillis()
            while Clock.nowMillis() <= moment {}
            _ = try await Self.send(api, alice, direct, "c", 20)
            let list = try await ChatctlTests.chatctl(["backup", "list", "--json", "--socket", socket])
            #expect(list.json["snapshots"].array.map { $0["replayable"].bool } == [true])
            return moment
        }
        // chatd stopped: restore offline, to the moment.
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let at = iso.string(from: Date(timeIntervalSince1970: Double(moment) / 1000))
        let restored = try await ChatctlTests.chatctl(["restore", "--at", at, "--config", file, "--json"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.json["messages"].int == 40)
        let expected = Set((0..<20).map { "a\($0)" } + (0..<20).map { "b\($0)" })
        #expect(try Self.texts(config) == expected)
        let verify = try await ChatctlTests.chatctl(["backup", "verify", "--config", file, "--json"])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.json["integrity"].string == "ok")
        // The restored database serves again, with the history it was restored to.
        try await withServer(config) { api in
            let alice = try await api.call(.post, "/v1/auth/login", json: ["handle": "alice", "password": "correct horse"])
            #expect(alice.status == 200)
        }
    }

    @Test func aBackupUnderWriteLoadRestoresEveryMessageAcknowledgedBeforeIt() async throws {
        let (config, file) = try Self.backupConfig(postCommand: "echo shipped > \"$CHATD_BACKUP/posted\"; exit 3")
        let (acknowledged, name) = try await withServer(config, keepData: true) { api -> (Set<String>, String) in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            let load = Task { try await Self.send(api, alice, direct, "load", 200) }
            let before = try await Self.send(api, bob, direct, "before", 50)
            let created = try await ChatctlTests.chatctl(["backup", "create", "--json", "--socket", socket])
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.json["post_command_status"].int == 3)
            _ = try await load.value
            return (before, created.json["name"].string ?? "")
        }
        let posted = URL(fileURLWithPath: config.backupDirectory).appendingPathComponent("\(name)/posted")
        #expect(try String(contentsOf: posted, encoding: .utf8) == "shipped\n")
        let restored = try await ChatctlTests.chatctl(["backup", "restore", name, "--config", file, "--json"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(acknowledged.isSubset(of: try Self.texts(config)))
        #expect(FileManager.default.fileExists(atPath: restored.json["previous_data_kept_at"].string ?? "/nonexistent"))
    }

    @Test func restoreRefusesWhileChatdRuns() async throws {
        let (config, file) = try Self.backupConfig()
        try await withServer(config) { api in
            _ = try await adminSocket(config)
            let refused = try await ChatctlTests.chatctl(["restore", "--config", file])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("chatd is running"), "\(refused.stderr)")
        }
    }
}
