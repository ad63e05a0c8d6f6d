import Foundation
import Testing

/// `chatctl check` finds what it claims to find: a healthy box, a disk past its threshold (simulated with a tiny
/// one), a damaged database, a daemon that is not running, a bad configuration.
@Suite struct CheckTests {
    func configFile(_ folder: URL, _ extra: String = "") throws -> String {
        let file = folder.appendingPathComponent("chatd.toml")
        try """
        [server]
        port = 0
        [metrics]
        port = 0
        [storage]
        data_dir = "\(folder.path)/data"
        [auth]
        jwt_secret = "check-test-secret-check-test-secret-01234"
        bcrypt_cost = 4
        \(extra)
        """.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func levels(_ run: ChatctlTests.Run) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for finding in run.json["findings"].array {
            out[finding["check"].string ?? "", default: []].append(finding["level"].string ?? "")
        }
        return out
    }

    @Test func aHealthyBoxAndAFullDisk() async throws {
        let folder = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = try configFile(folder)
        let chatd = ChildChatd(arguments: ["--config", file], logFile: folder.appendingPathComponent("chatd.log"))
        try await chatd.start()
        defer { chatd.terminate() }
        let healthy = try await ChatctlTests.chatctl(["check", "--json", "--config", file])
        #expect(healthy.status == 0, "\(healthy.stdout) \(healthy.stderr)")
        #expect(levels(healthy)["database"] == ["ok"])
        #expect(levels(healthy)["daemon"]?.first == "ok")
        #expect(healthy.json["problems"].int == 0)

        let full = try configFile(folder, "[operations]\ndisk_warning_percent = 1\ndisk_full_percent = 2")
        let report = try await ChatctlTests.chatctl(["check", "--json", "--config", full])
        #expect(report.status == 1)
        #expect(levels(report)["disk"] == ["problem"])
        #expect(report.json["findings"].array.first { $0["check"].string == "disk" }?["fix"].string?.isEmpty == false)
        let human = try await ChatctlTests.chatctl(["check", "--config", full])
        #expect(human.stdout.contains("PROBLEM disk"))
    }

    @Test func aDamagedDatabaseAndNoDaemon() async throws {
        let folder = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = try configFile(folder)
        let chatd = ChildChatd(arguments: ["--config", file], logFile: folder.appendingPathComponent("chatd.log"))
        try await chatd.start()
        let alice = try await chatd.request(.POST, "/v1/auth/register", json: ["handle": "alice", "password": "password1"])
        #expect(alice.status == 201)
        chatd.terminate()
        // Scribble over a page in the middle of the file.
        let database = folder.appendingPathComponent("data/db/chatd.sqlite")
        let handle = try FileHandle(forUpdating: database)
        try handle.seek(toOffset: 4096 * 3)
        try handle.write(contentsOf: Data(repeating: 0x5A, count: 4096))
        try handle.close()
        let report = try await ChatctlTests.chatctl(["check", "--json", "--config", file])
        #expect(report.status == 1)
        #expect(levels(report)["database"] == ["problem"], "\(report.stdout)")
        #expect(levels(report)["daemon"] == ["warning"], "not running: the rest was checked offline")

        let bad = folder.appendingPathComponent("bad.toml")
        try "[server]\nport = -1\n".write(to: bad, atomically: true, encoding: .utf8)
        let invalid = try await ChatctlTests.chatctl(["check", "--json", "--config", bad.path])
        #expect(invalid.status == 1)
        #expect(levels(invalid)["configuration"] == ["problem"])
    }

    @Test func anExpiredCertificateAKeyThatDoesNotMatchAndASelfSignedOne() async throws {
        let folder = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let expired = try TestCertificate(notValidAfter: Date().addingTimeInterval(-86_400))
        let (certificate, key) = try expired.write(to: folder)
        let tls = "[tls]\ncertificate = \"\(certificate)\"\nkey = \"\(key)\""
        let report = try await ChatctlTests.chatctl(["check", "--json", "--config", try configFile(folder, tls)])
        #expect(report.status == 1)
        #expect(levels(report)["tls"] == ["problem"])
        #expect(report.json["findings"].array.first { $0["check"].string == "tls" }?["detail"].string?.contains("expired") == true)

        let fresh = try TestCertificate()
        try Data(fresh.chainPEM.utf8).write(to: URL(fileURLWithPath: certificate))
        let mismatch = try await ChatctlTests.chatctl(["check", "--json", "--config", try configFile(folder, tls)])
        #expect(levels(mismatch)["tls"] == ["problem"])
        #expect(mismatch.json["findings"].array.first { $0["check"].string == "tls" }?["detail"].string?.contains("does not match") == true)

        try Data(fresh.keyPEM.utf8).write(to: URL(fileURLWithPath: key))
        let selfSigned = try await ChatctlTests.chatctl(["check", "--json", "--config", try configFile(folder, tls)])
        #expect(levels(selfSigned)["tls"] == ["warning"])
        #expect(selfSigned.json["findings"].array.first { $0["check"].string == "tls" }?["detail"].string?.contains("self-signed") == true)

        let issued = try TestCertificate(issued: true)
        try issued.write(to: folder)
        let good = try await ChatctlTests.chatctl(["check", "--json", "--config", try configFile(folder, tls)])
        #expect(levels(good)["tls"] == ["ok"])
    }

    /// Push credentials are read and parsed as chatd will, without sending: what is wrong is named.
    @Test func pushCredentials() async throws {
        let folder = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let off = try await ChatctlTests.chatctl(["check", "--json", "--config", try configFile(folder)])
        #expect(off.json["findings"].array.first { $0["check"].string == "push" }?["detail"].string?.hasPrefix("off") == true)

        let pair = try await ChatctlTests.chatctl(["push", "vapid-keys", "--json"])
        let privateKey = pair.json["private_key"].string ?? ""
        #expect(pair.json["public_key"].string?.count == 87)
        let serviceAccount = folder.appendingPathComponent("sa.json")
        try Data(#"{"type":"authorized_user","client_id":"x"}"#.utf8).write(to: serviceAccount)
        let file = try configFile(
            folder,
            """
            [push.fcm]
            service_account_file = "\(serviceAccount.path)"
            [push.apns]
            key_file = "\(folder.path)/missing.p8"
            key_id = "ABCDE12345"
            team_id = "TEAM123456"
            [push.webpush]
            vapid_private_key = "\(privateKey)"
            subject = "mailto:ops@example.com"
            """)
        let report = try await ChatctlTests.chatctl(["check", "--json", "--config", file])
        #expect(report.status == 1)
        #expect(levels(report)["push fcm"] == ["problem"])
        #expect(levels(report)["push apns"] == ["problem"])
        #expect(levels(report)["push webpush"] == ["ok"])
        let findings = report.json["findings"].array
        #expect(findings.first { $0["check"].string == "push fcm" }?["detail"].string?.contains("service_account") == true)
        #expect(findings.first { $0["check"].string == "push apns" }?["detail"].string?.contains("cannot read") == true)
        #expect(findings.first { $0["check"].string == "push webpush" }?["detail"].string?.contains(pair.json["public_key"].string ?? "?") == true)
    }
}
