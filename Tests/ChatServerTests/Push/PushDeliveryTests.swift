import ChatConfiguration
import ChatCore
import Foundation
import GRDB
import Testing

/// Push notifications from a live chatd to local stand-ins of FCM, APNs and a Web Push service that verify what the
/// real ones verify: who gets one (presence, mute and mentions, blocks, a burst collapsed), what it says (decrypted
/// to the exact JSON), and what chatd does with the vendor's answer (a retry after 503 at `Retry-After`, a target
/// removed on 410, a provider failing on 401).
@Suite(.serialized) struct PushDeliveryTests {
    /// A chatd pointed at `vendor`, with a database handle to watch its jobs.
    static func withPushServer(
        _ vendor: PushVendorStandIn, _ adjust: @escaping (inout ChatConfig) -> Void = { _ in },
        _ body: @Sendable (API, ChatConfig, DatabaseQueue) async throws -> Void
    ) async throws {
        let folder = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var config = testConfig()
        try vendor.configure(&config.push, folder: folder)
        config.push.webPush.allowedHosts = "127.0.0.1"
        adjust(&config)
        try await withServer(config) { [config] api in
            let database = try DatabaseQueue(path: config.storage.dataDirectory + "/db/chatd.sqlite")
            try await body(api, config, database)
        }
        await vendor.stop()
        #expect(vendor.problems.isEmpty, "the vendor would have refused: \(vendor.problems)")
    }

    /// Waits until the notify and push queues have nothing due or running (retries waiting for later stay).
    static func notifyQueueSettled(_ database: DatabaseQueue) async throws {
        try await eventually {
            try await database.read { db in
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT COUNT(*) FROM jobs
                        WHERE queue IN ('notify', 'push') AND (state = 'running' OR (state = 'ready' AND available_at <= ?))
                        """, arguments: [Clock.nowMillis()]) == 0
            }
        }
    }

    @Test func webPushGoesToWhoeverIsNotConnectedEncryptedAndSigned() async throws {
        let vendor = try await PushVendorStandIn(.webPush)
        try await Self.withPushServer(vendor) { api, _, database in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            let config = try await api.call(.get, "/v1/push/config", token: bob.token)
            #expect(config["platforms"].array.compactMap(\.string) == ["webpush"])
            #expect(config["vapid_public_key"].string?.count == 87)
            let registered = try await api.call(.put, "/v1/push/target", token: bob.token, json: vendor.subscribe("bob"))
            #expect(registered.status == 200, "\(registered.text)")
            #expect(registered["target"]["platform"].string == "webpush" && registered["target"]["current"].bool == true)

            // Bob is connected: the message reaches him live, and no push goes out.
            let (aliceSocket, _) = try await api.liveSocket(alice)
            let watched = try await aliceSocket.request(["type": "presence.subscribe", "user_ids": [bob.id]])
            #expect(watched["ok"].bool != false)
            let (bobSocket, _) = try await api.liveSocket(bob)
            _ = try await aliceSocket.first(
                where: { $0["type"].string == "presence" && $0["online"].bool == true }, timeout: .seconds(5), line: #line)
            #expect(try await api.send(alice, direct, "are you there?").status == 201)
            try await Self.notifyQueueSettled(database)
            #expect(vendor.sends == 0)

            // He goes away; the next message is pushed, encrypted to his subscription.
            await bobSocket.close()
            _ = try await aliceSocket.first(
                where: { $0["type"].string == "presence" && $0["online"].bool == false }, timeout: .seconds(5), line: #line)
            let sent = try await api.send(alice, direct, "lunch at 1?")
            try await eventually { vendor.accepted.count == 1 }
            let payload = try #require(vendor.accepted.first).payload
            let expected: [String: Any] = [
                "kind": "message", "conversation_id": direct, "message_id": sent["message"]["id"].int ?? -1, "seq": 2,
                "sender_id": alice.id, "sender_name": "alice", "title": "alice", "body": "lunch at 1?", "badge": 2,
                "collapse_key": "c\(direct)",
            ]
            #expect(payload.description == JSON(expected).description)
            #expect(vendor.accepted.first?.headers["urgency"] == "high")
            await aliceSocket.close()
        }
    }

    @Test func muteMentionsBlocksAndABurstCollapsed() async throws {
        let vendor = try await PushVendorStandIn(.webPush)
        try await Self.withPushServer(vendor) { api, config, database in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let carol = try await api.register("carol")
            let group = try await api.group(alice, title: "Crew", members: [bob, carol])
            for user in [bob, carol] {
                #expect(try await api.call(.put, "/v1/push/target", token: user.token, json: vendor.subscribe(user.handle)).status == 200)
            }
            // Bob muted the group; carol blocked alice.
            #expect(try await api.call(.put, "/v1/conversations/\(group)/mute", token: bob.token).status == 200)
            #expect(try await api.call(.put, "/v1/users/\(alice.id)/block", token: carol.token).status == 204)
            try await api.send(alice, group, "anyone?")
            try await Self.notifyQueueSettled(database)
            #expect(vendor.sends == 0, "bob muted it, carol blocked alice")

            // A mention of bob breaks through his mute…
            try await api.send(alice, group, "@bob you in?")
            try await eventually { vendor.accepted.count == 1 }
            #expect(vendor.accepted.last?.to == "/push/bob")
            #expect(vendor.accepted.last?.payload["body"].string == "alice: @bob you in?")
            // …until he says mentions should not.
            let settings = try await api.call(.patch, "/v1/push/settings", token: bob.token, json: ["mentions_break_mute": false])
            #expect(settings["settings"]["mentions_break_mute"].bool == false)
            try await api.send(alice, group, "@bob??")
            try await Self.notifyQueueSettled(database)
            #expect(vendor.sends == 1)

            // A burst while the notify queue is held collapses into one notification of its last message, with the
            // badge counting all of them.
            #expect(try await api.call(.delete, "/v1/conversations/\(group)/mute", token: bob.token).status == 200)
            let paused = try await ChatctlTests.chatctl(["jobs", "pause", "notify", "--socket", socket])
            #expect(paused.status == 0, "\(paused.stderr)")
            for text in ["one", "two", "three", "four"] { try await api.send(carol, group, text) }
            #expect(try await ChatctlTests.chatctl(["jobs", "resume", "notify", "--socket", socket]).status == 0)
            try await Self.notifyQueueSettled(database)
            let burst = vendor.accepted.dropFirst(1).filter { $0.to == "/push/bob" }
            #expect(burst.count == 1, "\(burst.map(\.payload))")
            #expect(burst.first?.payload["body"].string == "carol: four")
            #expect(burst.first?.payload["badge"].int == 7, "three from alice and four from carol unread")
            #expect(burst.first?.headers["topic"] == "c\(group)")
        }
    }

    @Test func retryAfter503GoneOn410AndFailingOn401() async throws {
        let vendor = try await PushVendorStandIn(.webPush)
        let other = try await PushVendorStandIn(.webPush)
        let metricsPort = try freePort()
        let trustBoth: (inout ChatConfig) -> Void = { config in
            config.metrics.port = metricsPort
            // chatd trusts both push services' certificates.
            let both = (try? String(contentsOfFile: config.push.caFile, encoding: .utf8)) ?? ""
            try? (both + other.server.certificatePEM).write(toFile: config.push.caFile, atomically: true, encoding: .utf8)
        }
        try await Self.withPushServer(vendor, trustBoth) { api, config, database in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            #expect(try await api.call(.put, "/v1/push/target", token: bob.token, json: vendor.subscribe("bob")).status == 200)

            // 503 with Retry-After: 120 → the retry waits two minutes, not the backoff's two seconds.
            vendor.script(.json(503, "{}", headers: ["Retry-After": "120"]))
            let before = Clock.nowMillis()
            try await api.send(alice, direct, "first")
            try await eventually { vendor.sends == 1 }
            try await Self.notifyQueueSettled(database)
            let retry = try #require(
                try await database.read { db in
                    try Row.fetchOne(db, sql: "SELECT id, available_at, payload FROM jobs WHERE kind = 'push.deliver'")
                })
            let due: Int64 = retry["available_at"]
            #expect(due >= before + 120_000 && due <= Clock.nowMillis() + 121_000, "due \(due - before) ms after the send")
            #expect(JSON(data: Data((retry["payload"] as String).utf8))["attempt"].int == 2)
            #expect(vendor.accepted.isEmpty)
            // An operator runs the retry now instead of in two minutes: it is delivered.
            let id: Int64 = retry["id"]
            let now = try await ChatctlTests.chatctl(["jobs", "retry", "\(id)", "--socket", socket])
            #expect(now.status == 0, "\(now.stderr)")
            try await eventually { vendor.accepted.count == 1 }
            #expect(vendor.accepted.first?.payload["body"].string == "first")

            // 410: the subscription is gone, and so is the target.
            vendor.script(.json(410, "{}"))
            try await api.send(alice, direct, "second")
            try await eventually { try await api.call(.get, "/v1/push/targets", token: bob.token)["targets"].array.isEmpty }

            // 401: the push service refuses chatd's VAPID key; the provider fails, visibly, and sends stop.
            #expect(try await api.call(.put, "/v1/push/target", token: bob.token, json: vendor.subscribe("bob2")).status == 200)
            vendor.script(.json(401, "{}"))
            try await api.send(alice, direct, "third")
            try await eventually { vendor.sends == 4 }
            try await Self.notifyQueueSettled(database)
            let status = try await ChatctlTests.chatctl(["status", "--json", "--socket", socket])
            let service = "webpush \(vendor.server.origin)"
            let failing = status.json["push"].array.first { $0["platform"].string == service }
            #expect(failing?["state"].string == "failing", "\(status.stdout)")
            #expect(failing?["reason"].string == "HTTP 401: {}")
            #expect(status.json["push"].array.first { $0["platform"].string == "webpush" }?["state"].string == "ok")
            #expect(status.json["warnings"].array.contains { $0.string?.contains("push to \(service) is failing") == true })

            // That push service gets nothing more (one probe in five minutes); another one still gets its own.
            other.acceptVAPID(of: vendor)
            let login = try await api.call(.post, "/v1/auth/login", json: ["handle": "bob", "password": "correct horse"])
            let laptop = login["access_token"].string ?? ""
            #expect(try await api.call(.put, "/v1/push/target", token: laptop, json: other.subscribe("bob-laptop")).status == 200)
            try await api.send(alice, direct, "fourth")
            try await eventually { other.accepted.count == 1 }
            try await Self.notifyQueueSettled(database)
            #expect(vendor.sends == 4, "no send to the failing service")
            #expect(other.accepted.first?.payload["body"].string == "fourth")
            await other.stop()
            #expect(other.problems.isEmpty)
            let left = try await database.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE kind = 'push.deliver'")
            }
            #expect(left == 0, "nothing retried forever")

            // Each outcome is counted by provider and reason; every attempt is timed.
            let samples = try await MetricsTests.scrape(port: metricsPort).samples
            func value(_ prefix: String) -> Double? {
                samples.first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            #expect(value(#"chatd_push_sent_total{provider="webpush"}"#) == 2)
            #expect(value(#"chatd_push_failed_total{provider="webpush",reason="retry"}"#) == 1)
            #expect(value(#"chatd_push_failed_total{provider="webpush",reason="target_gone"}"#) == 1)
            #expect(value(#"chatd_push_failed_total{provider="webpush",reason="credentials"}"#) == 1)
            #expect(value(#"chatd_push_failed_total{provider="webpush",reason="provider_failing"}"#) == 1)
            #expect(value(#"chatd_push_duration_seconds_count{provider="webpush"}"#) == 6)
        }
    }

    @Test func fcmGrantBearerAndUnregistered() async throws {
        let vendor = try await PushVendorStandIn(.fcm)
        try await Self.withPushServer(vendor) { api, _, database in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            #expect(try await api.call(.put, "/v1/push/target", token: bob.token, json: ["platform": "fcm", "token": "bob-phone"]).status == 200)
            let refused = try await api.call(
                .put, "/v1/push/target", token: alice.token, json: ["platform": "apns", "token": String(repeating: "a", count: 64), "topic": "x"])
            #expect(refused.status == 409 && refused.text.contains("not configured"), "\(refused.text)")

            try await api.send(alice, direct, "hello")
            // One at a time: a message whose job runs after the next one was sent is superseded by it.
            try await eventually { vendor.accepted.count == 1 }
            try await api.send(alice, direct, "again")
            try await eventually { vendor.accepted.count == 2 }
            #expect(vendor.grants == 1, "the access token is cached")
            // A token revoked before its time (401): one new grant, one more try, delivered.
            vendor.script(.json(401, #"{"error":{"code":401,"status":"UNAUTHENTICATED"}}"#))
            try await api.send(alice, direct, "and again")
            try await eventually { vendor.accepted.count == 3 }
            #expect(vendor.grants == 2)
            let message = try #require(vendor.accepted.last).payload
            #expect(message["token"].string == "bob-phone")
            #expect(message["notification"]["body"].string == "and again")
            #expect(message["data"]["conversation_id"].string == "\(direct)")
            #expect(message["android"]["collapse_key"].string == "c\(direct)")
            #expect(message["apns"]["payload"]["aps"]["badge"].int == 3)

            vendor.script(.json(404, #"{"error":{"code":404,"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#))
            try await api.send(alice, direct, "gone?")
            try await eventually { try await api.call(.get, "/v1/push/targets", token: bob.token)["targets"].array.isEmpty }
            try await Self.notifyQueueSettled(database)
        }
    }

    @Test func apnsOverHTTP2WithAProviderToken() async throws {
        let vendor = try await PushVendorStandIn(.apns)
        try await Self.withPushServer(vendor) { api, config, _ in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            let device = String(repeating: "0f", count: 32)
            let registered = try await api.call(
                .put, "/v1/push/target", token: bob.token,
                json: ["platform": "apns", "token": device.uppercased(), "topic": PushVendorStandIn.bundle, "sandbox": true])
            #expect(registered.status == 200, "\(registered.text)")
            #expect(registered["target"]["token"].string == device)

            try await api.send(alice, direct, "hi from chatd")
            try await eventually { vendor.accepted.count == 1 }
            let accepted = try #require(vendor.accepted.first)
            #expect(accepted.to == device)
            #expect(accepted.headers["apns-collapse-id"] == "c\(direct)")
            #expect(accepted.payload["aps"]["alert"]["body"].string == "hi from chatd")
            #expect(accepted.payload["aps"]["badge"].int == 1)

            // chatctl push test: each vendor's answer, as it came.
            let test = try await ChatctlTests.chatctl(["push", "test", "bob", "--json", "--socket", socket])
            #expect(test.status == 0, "\(test.stderr)")
            #expect(test.json["results"][0]["outcome"].string == "delivered")
            #expect(test.json["results"][0]["answer"].string == "200")
            #expect(vendor.accepted.last?.payload["chatd"]["kind"].string == "test")
            vendor.script(.json(410, #"{"reason":"Unregistered"}"#))
            let gone = try await ChatctlTests.chatctl(["push", "test", "bob", "--socket", socket])
            #expect(gone.status == 1)
            #expect(gone.stdout.contains("target_gone (removed)") && gone.stdout.contains("Unregistered"), "\(gone.stdout)")
        }
    }

    @Test func registrationIsCheckedAndEndsWithTheDevice() async throws {
        let vendor = try await PushVendorStandIn(.webPush)
        try await Self.withPushServer(vendor) { api, _, _ in
            let bob = try await api.register("bob")
            var subscription = vendor.subscribe("bob")
            for (body, fragment) in [
                (["platform": "telegram", "token": "x"], "platform"),
                (["platform": "webpush", "endpoint": "http://push.example/x", "keys": subscription["keys"]!], "https"),
                (["platform": "webpush", "endpoint": subscription["endpoint"]!], "keys"),
                (["platform": "webpush", "endpoint": "https://push.example/x", "keys": subscription["keys"]!], "not a push service"),
                (["platform": "webpush", "endpoint": subscription["endpoint"]!, "keys": ["p256dh": "BBBB", "auth": "AAAA"]], "p256dh"),
                (
                    ["platform": "webpush", "endpoint": subscription["endpoint"]!,
                     "keys": ["p256dh": Data([4] + Array(repeating: 1, count: 64)).base64URLEncoded(), "auth": Data(count: 16).base64URLEncoded()]],
                    "curve"
                ),
            ] as [([String: Any], String)] {
                let reply = try await api.call(.put, "/v1/push/target", token: bob.token, json: body)
                #expect(reply.status == 400 && reply.text.contains(fragment), "\(body): \(reply.text)")
            }
            subscription = vendor.subscribe("bob")
            #expect(try await api.call(.put, "/v1/push/target", token: bob.token, json: subscription).status == 200)
            #expect(try await api.call(.get, "/v1/push/targets", token: bob.token)["targets"].array.count == 1)
            // Logging out the device removes its target.
            #expect(try await api.call(.post, "/v1/auth/logout", token: bob.token).status == 204)
            let login = try await api.call(.post, "/v1/auth/login", json: ["handle": "bob", "password": "correct horse"])
            let token = login["access_token"].string ?? ""
            #expect(try await api.call(.get, "/v1/push/targets", token: token)["targets"].array.isEmpty)
            #expect(try await api.call(.delete, "/v1/push/target", token: token).status == 404)
        }
    }
}
