import ChatSpawn
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
        [metrics]
        port = 0
        [storage]
        data_dir = "\(dataDirectory.path)"
        [auth]
        jwt_secret = "crash-test-secret-crash-test-secret-0123"
        bcrypt_cost = 4
        [limits]
        auth_requests_per_minute = 100000
        messages_per_minute = 1000000
        [realtime]
        frames_per_second = 100000
        frame_burst = 100000
        user_frames_per_second = 1000000
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

    /// Over WebSockets: senders are acknowledged, the server is killed with SIGKILL, restarted; every member
    /// resumes from the last cursor it saw and then holds every acknowledged message exactly once.
    @Test func everyAcknowledgedSocketMessageReachesEveryMemberOnceAfterKill9() async throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: data) }
        let config = try configFile(dataDirectory: data)
        let first = ChildChatd(arguments: ["--config", config], logFile: data.appendingPathComponent("ws-first.log"))
        try await first.start()
        defer { first.terminate() }
        var registered: [String] = []
        for handle in ["alice", "bob", "carol"] {
            let reply = try await first.request(.POST, "/v1/auth/register", json: ["handle": handle, "password": "password1"])
            registered.append(try #require(reply.json["access_token"].string))
        }
        let tokens = registered
        let bobId = try #require(try await first.request(.GET, "/v1/me", token: tokens[1]).json["user"]["id"].int)
        let carolId = try #require(try await first.request(.GET, "/v1/me", token: tokens[2]).json["user"]["id"].int)
        let created = try await first.request(
            .POST, "/v1/conversations/group", token: tokens[0], json: ["title": "crash", "member_ids": [bobId, carolId]])
        let conversation = try #require(created.json["conversation"]["id"].int)

        // Bob and Carol listen; four of Alice's sockets send as fast as their acks come back.
        var listeners: [Socket] = []
        for token in tokens[1...] {
            let (socket, _) = try await Socket.hello(port: first.port, token: token)
            _ = try await socket.next(type: "synced")
            listeners.append(socket)
        }
        let acked = Shared<[String: Int64]>([:])
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<4 {
                group.addTask {
                    guard let (socket, _) = try? await Socket.hello(port: first.port, token: tokens[0]) else { return }
                    for index in 0..<100_000 {
                        let clientId = "w\(sender)-\(index)"
                        guard
                            let reply = try? await socket.request(
                                ["type": "send", "conversation_id": conversation, "client_id": clientId, "text": clientId],
                                timeout: .seconds(3)),
                            reply["status"].int == 201, let seq = reply["result"]["message"]["seq"].int
                        else { return }
                        acked.withLock { $0[clientId] = seq }
                    }
                }
            }
            group.addTask {
                // Killed after 300 acknowledgements (or after 30 s, should the senders fail: then the count below fails).
                let deadline = ContinuousClock.now + .seconds(30)
                while acked.withLock({ $0.count }) < 300, ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .milliseconds(5))
                }
                first.kill9()
            }
        }
        let acknowledged = acked.withLock { $0 }
        #expect(acknowledged.count >= 300)

        let second = ChildChatd(arguments: ["--config", config], logFile: data.appendingPathComponent("ws-second.log"))
        try await second.start()
        defer { second.terminate() }
        for (index, listener) in listeners.enumerated() {
            // What arrived before the crash, then a resume from the last cursor seen.
            var seen: [String: Int] = [:]
            var cursor: Int64 = 0
            func note(_ frame: JSON) {
                guard frame["type"].string == "event", frame["event"]["type"].string == "message.created" else { return }
                seen[frame["event"]["data"]["message"]["client_id"].string ?? "", default: 0] += 1
                cursor = max(cursor, frame["event"]["cursor"].int ?? 0)
            }
            while let frame = try? await listener.next(timeout: .seconds(2)) { note(frame) }
            let (resumed, _) = try await Socket.hello(port: second.port, token: tokens[index + 1], cursor: cursor)
            while true {
                let frame = try await resumed.next(timeout: .seconds(10))
                if frame["type"].string == "synced" { break }
                note(frame)
            }
            for clientId in acknowledged.keys {
                #expect(seen[clientId] == 1, "member \(index + 1) has \(clientId) \(seen[clientId] ?? 0) times")
            }
            #expect(seen.values.allSatisfy { $0 == 1 })
            await resumed.close()
        }
    }

    @Test func checkConfigExitsZeroOrSeventyEight() throws {
        func run(_ arguments: [String]) throws -> (Int32, String) {
            let output = try ChildProcess.run(
                ChildChatd.executable.path, arguments, environment: ProcessInfo.processInfo.environment, mergeErrors: true)
            return (output.status, String(decoding: output.stdout, as: UTF8.self))
        }
        let shipped = repositoryRoot.appendingPathComponent("etc/chatd.toml").path
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
