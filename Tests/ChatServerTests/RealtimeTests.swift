import ChatCore
import ChatStore
import Foundation
import NIOCore
import NIOWebSocket
import Testing

@testable import ChatServer

extension API {
    var port: Int { client.port ?? 0 }

    func socket(_ user: TestUser, cursor: Int64? = nil) async throws -> (Socket, JSON) {
        try await Socket.hello(port: port, token: user.token, cursor: cursor)
    }

    /// A socket that has said hello and finished its replay; returns it with its cursor.
    func liveSocket(_ user: TestUser, cursor: Int64? = nil) async throws -> (Socket, Int64) {
        let (socket, _) = try await socket(user, cursor: cursor)
        let synced = try await socket.next(type: "synced")
        return (socket, synced["cursor"].int ?? -1)
    }
}

/// The realtime gateway with real WebSocket clients against a real server on a loopback port.
@Suite struct RealtimeTests {
    /// `welcome` tells the client the message limit the message service enforces (one setting, both places).
    @Test func welcomeStatesTheConfiguredMessageLimit() async throws {
        try await withServer(testConfig { $0.limits.maxMessageBytes = 1000 }) { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let conversation = try await api.direct(alice, with: bob)
            let (socket, welcome) = try await api.socket(alice)
            #expect(welcome["limits"]["max_message_bytes"].int == 1000)
            let tooLong = try await socket.request(
                ["type": "send", "conversation_id": conversation, "client_id": "c", "text": String(repeating: "x", count: 1001)])
            #expect(tooLong["error"]["code"].string == "payload_too_large")
            await socket.close()
        }
    }

    @Test func twoUsersChatWithReceiptsTypingAndPresence() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let conversation = try await api.direct(alice, with: bob)
            let (aliceSocket, welcome) = try await api.socket(alice)
            #expect(welcome["id"].string == "hello")
            #expect(welcome["user_id"].int == alice.id)
            #expect(welcome["heartbeat_s"].int == 30)
            _ = try await aliceSocket.next(type: "synced")
            let (bobSocket, _) = try await api.liveSocket(bob)

            // Alice watches Bob's presence: he is online.
            let presence = try await aliceSocket.request(["type": "presence.subscribe", "user_ids": [bob.id]])
            #expect(presence["status"].int == 200)
            #expect(presence["result"]["presence"][0]["user_id"].int == bob.id)
            #expect(presence["result"]["presence"][0]["online"].bool == true)

            // Bob types; Alice sees it, then sees it stop.
            try await bobSocket.send(["type": "typing", "conversation_id": conversation, "state": "start"])
            let typing = try await aliceSocket.next(type: "typing")
            #expect(typing["user_id"].int == bob.id)
            #expect(typing["conversation_id"].int == conversation)
            #expect(typing["state"].string == "start")
            try await bobSocket.send(["type": "typing", "conversation_id": conversation, "state": "stop"])
            #expect(try await aliceSocket.next(type: "typing")["state"].string == "stop")

            // Alice sends over the socket: a durable ack with seq and cursor, then Bob has the event.
            let ack = try await aliceSocket.request(
                ["type": "send", "conversation_id": conversation, "client_id": "m1", "text": "hi bob"], id: "s1")
            #expect(ack["status"].int == 201, "\(ack)")
            #expect(ack["result"]["message"]["seq"].int == 1)
            let cursor = try #require(ack["result"]["cursor"].int)
            let event = try await bobSocket.next(type: "event")
            #expect(event["event"]["type"].string == "message.created")
            #expect(event["event"]["cursor"].int == cursor)
            #expect(event["event"]["data"]["message"]["text"].string == "hi bob")

            // The same client_id again is the same message.
            let again = try await aliceSocket.request(
                ["type": "send", "conversation_id": conversation, "client_id": "m1", "text": "hi bob"])
            #expect(again["status"].int == 200)
            #expect(again["result"]["duplicate"].bool == true)

            // Bob's receipts reach Alice.
            let delivered = try await bobSocket.request(
                ["type": "delivered", "conversation_id": conversation, "seq": 1])
            #expect(delivered["status"].int == 200)
            let read = try await bobSocket.request(["type": "read", "conversation_id": conversation, "seq": 1])
            #expect(read["result"]["last_read_seq"].int == 1)
            var receipts: [String] = []
            while receipts.count < 2 {
                let frame = try await aliceSocket.next(type: "event")
                let type = frame["event"]["type"].string ?? ""
                if type.hasPrefix("receipt.") {
                    #expect(frame["event"]["data"]["user_id"].int == bob.id)
                    receipts.append(type)
                }
            }
            #expect(receipts == ["receipt.delivered", "receipt.read"])

            // Edit, react and delete arrive as events too.
            let edit = try await aliceSocket.request(
                ["type": "edit", "conversation_id": conversation, "seq": 1, "text": "hi Bob"])
            #expect(edit["result"]["message"]["text"].string == "hi Bob")
            let react = try await bobSocket.request(
                ["type": "react", "conversation_id": conversation, "seq": 1, "emoji": "👍"])
            #expect(react["status"].int == 200, "\(react)")
            let delete = try await aliceSocket.request(["type": "delete", "conversation_id": conversation, "seq": 1])
            #expect(delete["result"]["message"]["deleted_at"].int != nil, "\(delete)")
            // Bob's devices see his own receipts and reactions too.
            var types: [String] = []
            while types.count < 5 {
                types.append(try await bobSocket.next(type: "event")["event"]["type"].string ?? "")
            }
            #expect(types == ["receipt.delivered", "receipt.read", "message.edited", "reaction.added", "message.deleted"])

            // Bob leaves: Alice sees him offline, with a last-seen time.
            await bobSocket.close()
            let offline = try await aliceSocket.next(type: "presence")
            #expect(offline["user_id"].int == bob.id)
            #expect(offline["online"].bool == false)
            #expect((offline["last_seen"].int ?? 0) > 0)
            await aliceSocket.close()
        }
    }

    @Test func oneUserWithTwoDevicesSeesEverythingOnBoth() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let conversation = try await api.direct(alice, with: bob)
            let (phone, _) = try await api.liveSocket(alice)
            let (laptop, _) = try await api.liveSocket(alice)
            let (bobSocket, _) = try await api.liveSocket(bob)

            let ack = try await phone.request(
                ["type": "send", "conversation_id": conversation, "client_id": "p1", "text": "from my phone"])
            let cursor = ack["result"]["cursor"].int
            for socket in [phone, laptop, bobSocket] {
                let event = try await socket.next(type: "event")
                #expect(event["event"]["cursor"].int == cursor)
                #expect(event["event"]["data"]["message"]["text"].string == "from my phone")
            }
            // A REST send reaches every socket as well: one code path, two transports.
            try await api.send(bob, conversation, "from rest")
            for socket in [phone, laptop, bobSocket] {
                #expect(try await socket.next(type: "event")["event"]["data"]["message"]["text"].string == "from rest")
            }
            // Presence stays online while one device is connected.
            let (watcher, _) = try await api.liveSocket(bob)
            await phone.close()
            let states = try await watcher.request(["type": "presence.subscribe", "user_ids": [alice.id]])
            #expect(states["result"]["presence"][0]["online"].bool == true)
            for socket in [laptop, bobSocket, watcher] { await socket.close() }
        }
    }

    @Test func resumeAfterADroppedConnectionGetsExactlyTheMissedEvents() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let conversation = try await api.direct(alice, with: bob)
            try await api.send(alice, conversation, "before")
            let (first, cursor) = try await api.liveSocket(bob)
            first.drop()

            var missed: [Int64] = []
            for index in 1...7 {
                let reply = try await api.send(alice, conversation, "missed \(index)")
                missed.append(try #require(reply["cursor"].int))
            }
            let (second, welcome) = try await api.socket(bob, cursor: cursor)
            #expect(welcome["resume_from"].int == cursor)
            var replayed: [Int64] = []
            while true {
                let frame = try await second.next()
                if frame["type"].string == "synced" {
                    #expect(frame["cursor"].int == missed.last)
                    break
                }
                #expect(frame["type"].string == "event")
                replayed.append(frame["event"]["cursor"].int ?? -1)
            }
            #expect(replayed == missed)
            // Then live, with nothing repeated.
            let live = try await api.send(alice, conversation, "live")
            let event = try await second.next(type: "event")
            #expect(event["event"]["cursor"].int == live["cursor"].int)
            // Nothing repeated: the next frame after it is the next event (the hub delivers in cursor order).
            let marker = try await api.send(alice, conversation, "marker")
            #expect(try await second.next()["event"]["cursor"].int == marker["cursor"].int)
            await second.close()
        }
    }

    /// Subscribe first, then replay, then dedupe by cursor: while a sender keeps writing, a resuming client sees
    /// every seq exactly once and in order, across the switch from replay to live.
    @Test func resumeWhileMessagesKeepComingHasNoGapAndNoDuplicate() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let conversation = try await api.direct(alice, with: bob)
            for index in 1...600 { try await api.send(alice, conversation, "old \(index)") }
            let total = 900
            let sender = Task {
                for index in 601...total { try await api.send(alice, conversation, "new \(index)") }
            }
            let (socket, _) = try await api.socket(bob, cursor: 0)
            var seqs: [Int64] = []
            var cursors: [Int64] = []
            while seqs.count < total {
                let frame = try await socket.next(timeout: .seconds(20))
                guard frame["type"].string == "event", frame["event"]["type"].string == "message.created" else {
                    continue
                }
                cursors.append(frame["event"]["cursor"].int ?? -1)
                seqs.append(frame["event"]["data"]["message"]["seq"].int ?? -1)
            }
            try await sender.value
            #expect(seqs == Array(1...Int64(total)))
            #expect(cursors == cursors.sorted() && Set(cursors).count == cursors.count)
            await socket.close()
        }
    }

    @Test func aCursorPastRetentionGetsResetRequired() async throws {
        let config = testConfig()
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let conversation = try await api.direct(alice, with: bob)
            for index in 1...3 { try await api.send(alice, conversation, "old \(index)") }
            // Retention passes: the events are pruned (by a second connection to the same database).
            let store = try Store(
                directory: URL(fileURLWithPath: config.storage.dataDirectory).appendingPathComponent("db"))
            try await store.events.pruneEvents(olderThan: Clock.nowMillis() + 1000)
            try store.close()
            let head = try await api.call(.get, "/v1/sync", token: bob.token)["cursor"].int

            let (socket, _) = try await api.socket(bob, cursor: 1)
            let reset = try await socket.next()
            #expect(reset["type"].string == "reset_required", "\(reset)")
            #expect(reset["cursor"].int == head)
            #expect(try await socket.next()["type"].string == "synced")
            // Live from the head on.
            let live = try await api.send(alice, conversation, "after the reset")
            #expect(try await socket.next(type: "event")["event"]["cursor"].int == live["cursor"].int)
            await socket.close()
        }
    }

    /// A cursor ahead of the server's log (a client that talked to a server restored from an older backup) is reset
    /// to the head, and live events after the head arrive.
    @Test func aCursorAheadOfTheLogIsResetToTheHead() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let conversation = try await api.direct(alice, with: bob)
            let head = try #require(try await api.call(.get, "/v1/sync", token: bob.token)["cursor"].int)
            let (socket, _) = try await api.socket(bob, cursor: head + 1_000)
            let reset = try await socket.next()
            #expect(reset["type"].string == "reset_required", "\(reset)")
            #expect(reset["cursor"].int == head)
            #expect(try await socket.next()["cursor"].int == head)
            let live = try await api.send(alice, conversation, "after the reset")
            #expect(try await socket.next(type: "event")["event"]["cursor"].int == live["cursor"].int)
            await socket.close()
        }
    }

    @Test func membershipChangesReachTheHubLive() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let carol = try await api.register("carol")
            let (carolSocket, _) = try await api.liveSocket(carol)
            let group = try await api.group(alice, title: "team", members: [bob])
            // Carol is added while online: she gets her member.added and the messages after it.
            let added = try await api.call(
                .post, "/v1/conversations/\(group)/members", token: alice.token, json: ["user_ids": [carol.id]])
            #expect(added.status == 200, "\(added.text)")
            #expect(try await carolSocket.next(type: "event")["event"]["type"].string == "member.added")
            try await api.send(bob, group, "welcome carol")
            #expect(try await carolSocket.next(type: "event")["event"]["data"]["message"]["text"].string == "welcome carol")
            // Removed, she gets her own member.removed and nothing more.
            let removed = try await api.call(.delete, "/v1/conversations/\(group)/members/\(carol.id)", token: alice.token)
            #expect(removed.status == 204, "\(removed.text)")
            let gone = try await carolSocket.next(type: "event")
            #expect(gone["event"]["type"].string == "member.removed")
            #expect(gone["event"]["data"]["user_id"].int == carol.id)
            try await api.send(bob, group, "carol is gone")
            // The next thing carol hears is a message of a conversation she is still in, sent after that one: the
            // hub delivers in cursor order, so had she got the group's message, it would have come first.
            let direct = try await api.direct(bob, with: carol)
            _ = try await carolSocket.next(type: "event")  // conversation.created of the direct conversation
            let marker = try await api.send(bob, direct, "still here")
            #expect(try await carolSocket.next()["event"]["cursor"].int == marker["cursor"].int)
            await carolSocket.close()
        }
    }

    @Test func shutdownClosesEverySocketWithGoingAway() async throws {
        let sockets = try await withServer { api in
            let alice = try await api.register("alice")
            let (live, _) = try await api.liveSocket(alice)
            let unauthenticated = try await Socket.connect(port: api.port)
            return [live, unauthenticated]
        }
        for socket in sockets {
            #expect(try await socket.closed()?.closeCode == .goingAway)
        }
    }
}
