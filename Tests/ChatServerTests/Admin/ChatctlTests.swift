import ChatConfiguration
import ChatSpawn
import Foundation
import Testing

/// `chatctl` — the built executable — against a live daemon over its admin socket, in `--json` mode, parsed; and its
/// exit codes when something is wrong.
@Suite struct ChatctlTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: JSON { JSON(data: Data(stdout.utf8)) }
    }

    static var executable: URL {
        let beside = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("chatctl")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return repositoryRoot.appendingPathComponent(".build/debug/chatctl")
    }

    /// Runs chatctl on a dispatch thread: waiting for a child process blocks, and a blocked cooperative thread on two
    /// cores would starve the in-process daemon it is talking to.
    static func chatctl(_ arguments: [String], input: String? = nil, environment: [String: String] = [:]) async throws
        -> Run
    {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runBlocking(arguments, input: input, environment: environment) })
            }
        }
    }

    private static func runBlocking(_ arguments: [String], input: String?, environment: [String: String]) throws -> Run {
        let output = try ChildProcess.run(
            executable.path, arguments,
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHATD_") }
                .merging(environment) { $1 },
            input: input.map { Data($0.utf8) })
        return Run(
            status: output.status, stdout: String(decoding: output.stdout, as: UTF8.self),
            stderr: String(decoding: output.stderr, as: UTF8.self))
    }

    /// What the man pages (`scripts/manpages`) and the completion scripts are generated from: every command the issue
    /// names is there, and each one says what it does.
    @Test func completionsAndTheManualsSourceCoverEveryCommand() async throws {
        let groups = [
            "status", "check", "stats", "user", "sessions", "conversation", "message", "jobs", "media", "config", "reload",
            "cert", "backup", "restore", "version",
        ]
        for shell in ["bash", "zsh", "fish"] {
            let script = try await Self.chatctl(["--generate-completion-script", shell])
            #expect(script.status == 0, "\(shell): \(script.stderr)")
            for group in groups { #expect(script.stdout.contains(group), "\(shell) completes no \(group)") }
        }
        let dump = try await Self.chatctl(["--experimental-dump-help"])
        #expect(dump.status == 0)
        func commands(_ command: JSON, path: String) -> [(String, JSON)] {
            let name = path.isEmpty ? "" : path
            return [(name, command)] + command["subcommands"].array.flatMap {
                commands($0, path: name + " " + ($0["commandName"].string ?? "?"))
            }
        }
        let all = commands(dump.json["command"], path: "")
        let names = Set(all.map { $0.0.trimmingCharacters(in: .whitespaces) })
        for group in groups { #expect(names.contains(group), "no \(group) command") }
        for leaf in ["user delete", "user role", "user add", "sessions kick", "jobs retry", "backup verify", "cert import"] {
            #expect(names.contains(leaf), "no \(leaf) command")
        }
        for (name, command) in all where !name.isEmpty {
            #expect(!(command["abstract"].string ?? "").isEmpty, "\(name) has no abstract for its man page")
        }
    }

    @Test func statusAndJobsAgainstALiveDaemon() async throws {
        let config = mediaConfig()
        try await withServer(config) { api in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            try await api.send(alice, direct, "one")
            try await api.send(bob, direct, "two")

            let status = try await Self.chatctl(["status", "--json", "--socket", socket])
            #expect(status.status == 0, "\(status.stderr) \(status.stdout)")
            #expect(status.json["version"].string?.isEmpty == false)
            #expect(status.json["messages_today"].int == 2)
            #expect(status.json["queues"].array.compactMap { $0["depth"]["queue"].string } == ["cleanup", "media", "notify", "push"])
            #expect((status.json["disk"]["total_bytes"].int ?? 0) > 0)
            #expect((status.json["wal_bytes"].int ?? -1) >= 0)
            let human = try await Self.chatctl(["status", "--socket", socket])
            #expect(human.stdout.contains("messages today 2"), "\(human.stdout)")

            // A corrupt image makes a dead job to list, show, retry and purge.
            _ = try await api.upload(alice, MediaFixtures.corruptJPEG(), filename: "broken.jpg", type: "image/jpeg")
            try await eventually { try JobRows(config).dead(kind: "media.process").count == 1 }
            let dead = try await Self.chatctl(["jobs", "list", "--state", "dead", "--json", "--socket", socket])
            #expect(dead.status == 0, "\(dead.stderr)")
            let job = try #require(dead.json["jobs"][0]["id"].int)
            #expect(dead.json["jobs"][0]["attempts"].int == 3)
            let shown = try await Self.chatctl(["jobs", "show", "\(job)", "--json", "--socket", socket])
            #expect(shown.json["job"]["kind"].string == "media.process")
            #expect(shown.json["job"]["last_error"].string?.contains("VipsJpeg") == true)

            let paused = try await Self.chatctl(["jobs", "pause", "media", "--json", "--socket", socket])
            #expect(paused.json["queues"].array.first { $0["depth"]["queue"].string == "media" }?["depth"]["paused"].bool == true)
            let retried = try await Self.chatctl(["jobs", "retry", "\(job)", "--json", "--socket", socket])
            #expect(retried.status == 0, "\(retried.stderr)")
            #expect(retried.json["job"]["state"].string == "ready")
            #expect(retried.json["job"]["attempts"].int == 0)
            let warnings = try await Self.chatctl(["status", "--json", "--socket", socket])
            #expect(warnings.json["warnings"].array.contains { $0.string?.contains("queue media is paused") == true })
            let resumed = try await Self.chatctl(["jobs", "resume", "media", "--socket", socket])
            #expect(resumed.status == 0)
            #expect(resumed.stdout.contains("media"))
            try await eventually { try JobRows(config).dead(kind: "media.process").count == 1 }
            let purged = try await Self.chatctl(["jobs", "purge", "--queue", "media", "--json", "--socket", socket])
            #expect(purged.json["purged"].int == 1)

            // What the daemon refuses is an error on stderr and exit 1.
            let notDead = try await Self.chatctl(["jobs", "retry", "999999", "--socket", socket])
            #expect(notDead.status == 1)
            #expect(notDead.stderr.contains("conflict"))
            let noQueue = try await Self.chatctl(["jobs", "pause", "nonesuch", "--socket", socket])
            #expect(noQueue.status == 1)
            #expect(noQueue.stderr.contains("not_found"))
        }
    }

    @Test func exitCodesWithoutADaemonAndOfflineCommands() async throws {
        let folder = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let socket = folder.appendingPathComponent("admin.sock").path
        let status = try await Self.chatctl(["status", "--socket", socket])
        #expect(status.status == 3, "status when chatd is not running")
        let jobs = try await Self.chatctl(["jobs", "list", "--socket", socket])
        #expect(jobs.status == 69, "unreachable")
        #expect(jobs.stderr.contains("hint:"))
        let usage = try await Self.chatctl(["jobs", "list", "--state", "sleeping"])
        #expect(usage.status == 64)

        let good = folder.appendingPathComponent("good.toml")
        try "[server]\nport = 9000\n[storage]\ndata_dir = \"\(folder.path)\"\n".write(to: good, atomically: true, encoding: .utf8)
        let valid = try await Self.chatctl(["config", "check", good.path])
        #expect(valid.status == 0, "\(valid.stderr)")
        #expect(valid.stdout.contains("offline"))
        let bad = folder.appendingPathComponent("bad.toml")
        try "[server]\nport = \"eighty\"\nlisten = 1\n".write(to: bad, atomically: true, encoding: .utf8)
        let invalid = try await Self.chatctl(["config", "check", bad.path])
        #expect(invalid.status == 78)
        #expect(invalid.stderr.contains("server.port") && invalid.stderr.contains("server.listen"))
        let broken = try await Self.chatctl(["status", "--config", bad.path])
        #expect(broken.status == 78, "a bad config names no socket")
        let version = try await Self.chatctl(["version"])
        #expect(version.status == 0 && !version.stdout.isEmpty)
    }
}

/// The admin socket of a server under test, once it is ready: the admin listener starts beside the public one, and
/// its socket has its mode (0660) as soon as it listens.
func adminSocket(_ config: ChatConfig) async throws -> String {
    let socket = config.adminSocketPath
    try await eventually {
        (try? FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? Int) == 0o660
    }
    return socket
}
