import Foundation
import Synchronization
import Testing

/// A value several tasks update.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { value.withLock { body(&$0) } }
}

/// A real chatd process, killed with SIGKILL while clients send, loses no acknowledged message.
@Suite(.serialized) struct CrashTests {
    func configFile(dataDirectory: URL) throws -> String {
        let file = dataDirectory.appendingPathComponent("chatd.toml")
        try """
        [server]
        port = 0
        [storage]
        data_dir = "\(dataDirectory.path)"
        [auth]
        jwt_secret = "crash-test-secret-crash-test-secret-0123"
        bcrypt_cost = 4
        [limits]
        auth_requests_per_minute = 100000
        messages_per_minute = 1000000
        [log]
        level = "notice"
        """.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    @Test func everyAcknowledgedMessageSurvivesKill9() async throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: data) }
        let config = try configFile(dataDirectory: data)
        let first = ChildChatd(arguments: ["--config", config], logFile: data.appendingPathComponent("first.log"))
        try await first.start()
        defer { first.terminate() }

        let alice = try await first.request(.POST, "/v1/auth/register", json: ["handle": "alice", "password": "password1"])
        let bob = try await first.request(.POST, "/v1/auth/register", json: ["handle": "bob", "password": "password1"])
        let aliceToken = try #require(alice.json["access_token"].string)
        let bobToken = try #require(bob.json["access_token"].string)
        let direct = try await first.request(
            .POST, "/v1/conversations/direct", token: aliceToken, json: ["user_id": bob.json["user"]["id"].int!])
        let conversation = try #require(direct.json["conversation"]["id"].int)

        // Eight senders send as fast as they can; each acknowledgement is recorded with its seq.
        let acked = Shared<[String: Int64]>([:])
        let attempted = Shared<Set<String>>([])
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<8 {
                group.addTask {
                    let token = sender % 2 == 0 ? aliceToken : bobToken
                    for index in 0..<100_000 {
                        let clientId = "s\(sender)-\(index)"
                        attempted.withLock { _ = $0.insert(clientId) }
                        guard
                            let reply = try? await first.request(
                                .POST, "/v1/conversations/\(conversation)/messages", token: token,
                                json: ["client_id": clientId, "text": "message \(clientId)"]),
                            reply.status == 201, let seq = reply.json["message"]["seq"].int
                        else { return }
                        acked.withLock { $0[clientId] = seq }
                    }
                }
            }
            group.addTask {
                while acked.withLock({ $0.count }) < 300 { try? await Task.sleep(for: .milliseconds(5)) }
                first.kill9()
            }
        }
        let acknowledged = acked.withLock { $0 }
        #expect(acknowledged.count >= 300)

        // Restart on the same data: every acknowledged message is there, once, with its seq; seqs have no gap.
        let second = ChildChatd(arguments: ["--config", config], logFile: data.appendingPathComponent("second.log"))
        try await second.start()
        defer { second.terminate() }
        var stored: [String: Int64] = [:]
        var seqs: [Int64] = []
        var after: Int64 = 0
        while true {
            let page = try await second.request(
                .GET, "/v1/conversations/\(conversation)/messages?after=\(after)&limit=100", token: bobToken)
            #expect(page.status == 200)
            for message in page.json["messages"].array {
                let clientId = message["client_id"].string!
                #expect(stored[clientId] == nil, "\(clientId) stored twice")
                stored[clientId] = message["seq"].int!
                seqs.append(message["seq"].int!)
            }
            guard page.json["has_more"].bool == true, let last = seqs.last else { break }
            after = last
        }
        #expect(seqs == Array(1...Int64(seqs.count)))
        for (clientId, seq) in acknowledged {
            #expect(stored[clientId] == seq, "acknowledged \(clientId) as seq \(seq), found \(String(describing: stored[clientId]))")
        }

        // Retrying what was in flight at the crash never duplicates: committed ones come back as duplicates.
        let inFlight = attempted.withLock { $0 }.subtracting(acknowledged.keys)
        for clientId in inFlight {
            let token = clientId.hasPrefix("s0") || clientId.hasPrefix("s2") || clientId.hasPrefix("s4") || clientId.hasPrefix("s6") ? aliceToken : bobToken
            let retry = try await second.request(
                .POST, "/v1/conversations/\(conversation)/messages", token: token,
                json: ["client_id": clientId, "text": "message \(clientId)"])
            #expect(retry.status == (stored[clientId] == nil ? 201 : 200))
        }
    }

    @Test func checkConfigExitsZeroOrSeventyEight() throws {
        func run(_ arguments: [String]) throws -> (Int32, String) {
            let process = Process()
            process.executableURL = ChildChatd.executable
            process.arguments = arguments
            let pipe = Pipe()
            process.standardError = pipe
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, output)
        }
        let shipped = ConfigTests.repository.appendingPathComponent("etc/chatd.toml").path
        let (ok, okOutput) = try run(["check-config", shipped])
        #expect(ok == 0, "\(okOutput)")
        let bad = temporaryDirectory().appendingPathComponent("bad.toml")
        try "[server]\nport = 70000\n".write(to: bad, atomically: true, encoding: .utf8)
        let (status, output) = try run(["check-config", bad.path])
        #expect(status == 78)
        #expect(output.contains("\(bad.path): key 'server.port' must be an integer from 0 to 65535, got 70000"))
        let (serveStatus, _) = try run(["--config", bad.path])
        #expect(serveStatus == 78)
    }
}
