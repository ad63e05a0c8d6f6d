import Foundation
import Testing

/// `chatctl media stats|gc`, and the shell completions chatctl generates from its own command definitions.
@Suite struct AdminMediaTests {
    @Test func statsAndCleanupNow() async throws {
        let config = mediaConfig()
        try await withServer(config) { api in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            _ = try await api.upload(alice, Array("%PDF-1.4\nhello".utf8), filename: "a.pdf", type: "application/pdf")
            let stats = try await ChatctlTests.chatctl(["media", "stats", "--json", "--socket", socket])
            #expect(stats.status == 0, "\(stats.stderr)")
            #expect(stats.json["kinds"][0]["kind"].string == "file")
            #expect(stats.json["kinds"][0]["count"].int == 1)
            #expect(stats.json["kinds"][0]["bytes"].int == 14)
            #expect((stats.json["folder_bytes"].int ?? 0) >= 14)

            let stray = URL(fileURLWithPath: config.storage.dataDirectory + "/media/processed/images/999.jpg")
            try Data("stray".utf8).write(to: stray)
            let gc = try await ChatctlTests.chatctl(["media", "gc", "--json", "--socket", socket])
            #expect(gc.status == 0, "\(gc.stderr)")
            #expect(gc.json["files_without_records"].array.compactMap(\.string).contains { $0.hasSuffix("/999.jpg") })
            #expect(gc.json["purged_media"].int == 0, "a month has not passed")
        }
    }

    @Test func completionScriptsForEveryShell() async throws {
        for shell in ["bash", "zsh", "fish"] {
            let script = try await ChatctlTests.chatctl(["--generate-completion-script", shell])
            #expect(script.status == 0)
            for command in ["status", "jobs", "user", "sessions", "conversation", "media"] {
                #expect(script.stdout.contains(command), "\(shell) completes \(command)")
            }
        }
    }
}
