import ChatCore
import Foundation
import JWTKit
import NIOCore
import NIOWebSocket
import Testing

@testable import ChatServer

/// Bad frames, floods, slow and silent peers: each gets a clear error reply or close code, nothing is written, and
/// the server goes on serving everyone else.
@Suite struct RealtimeAbuseTests {
    @Test func badFramesGetErrorRepliesAndChangeNothing() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let conversation = try await api.direct(alice, with: bob)
            let (socket, _) = try await api.liveSocket(alice)

            try await socket.send(text: "{nope")
            let malformed = try await socket.next(type: "reply")
            #expect(malformed["status"].int == 400)
            #expect(malformed["error"]["code"].string == "invalid_request")
            #expect(malformed["id"].isNull)

            try await socket.send(text: "[1,2]")
            #expect(try await socket.next(type: "reply")["error"]["message"].string == "a frame must be a JSON object")

            let wrongType = try await socket.request(
                ["type": "send", "conversation_id": "one", "client_id": "x", "text": "hi"], id: "w")
            #expect(wrongType["status"].int == 400)
            #expect(wrongType["error"]["message"].string?.contains("conversation_id") == true, "\(wrongType)")

            let missing = try await socket.request(["type": "send", "conversation_id": conversation, "text": "hi"])
            #expect(missing["error"]["message"].string == "field 'client_id' is required for 'send'")

            let unknown = try await socket.request(["type": "dance"], id: "u")
            #expect(unknown["status"].int == 400)
            #expect(unknown["error"]["message"].string?.hasPrefix("unknown frame type 'dance'") == true)

            let numericID = try await socket.request(["type": "ping"], id: "7")
            #expect(numericID["status"].int == 200)
            try await socket.send(["type": "ping", "id": 42])
            #expect(try await socket.next(type: "reply")["id"].int == 42)

            let stranger = try await socket.request(
                ["type": "send", "conversation_id": 999, "client_id": "s", "text": "hi"])
            #expect(stranger["status"].int == 404)
            let empty = try await socket.request(
                ["type": "send", "conversation_id": conversation, "client_id": "e", "text": ""])
            #expect(empty["status"].int == 400)
            let tooLong = try await socket.request(
                ["type": "send", "conversation_id": conversation, "client_id": "l",
                 "text": String(repeating: "x", count: 5000)])
            #expect(tooLong["status"].int == 413)
            let again = try await socket.request(["type": "hello", "token": alice.token])
            #expect(again["status"].int == 409)

            // Unknown fields are ignored.
            let extra = try await socket.request(
                ["type": "send", "conversation_id": conversation, "client_id": "ok", "text": "hi", "colour": "red"])
            #expect(extra["status"].int == 201)

            // Only the one valid message was written.
            let history = try await api.call(.get, "/v1/conversations/\(conversation)/messages", token: bob.token)
            #expect(history["messages"].array.count == 1)
            await socket.close()
        }
    }

    @Test func framesThatEndTheSessionGetTheirCloseCodes() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")

            let beforeHello = try await Socket.connect(port: api.port)
            try await beforeHello.send(["type": "ping", "id": "early"])
            #expect(try await beforeHello.closed()?.closeCode == .unknown(4400))

            let badToken = try await Socket.connect(port: api.port)
            try await badToken.send(["type": "hello", "id": "h", "token": "not-a-token"])
            let refusal = try await badToken.next(type: "reply")
            #expect(refusal["status"].int == 401)
            #expect(refusal["id"].string == "h")
            #expect(try await badToken.closed()?.closeCode == .unknown(4401))

            let keys = JWTKeyCollection()
            await keys.add(hmac: HMACKey(from: testSecret), digestAlgorithm: .sha256)
            let past = Date().addingTimeInterval(-60)
            let expired = try await keys.sign(
                TokenIssuer.AccessClaims(
                    sub: SubjectClaim(value: "\(alice.id)"), iss: "chatd", iat: .init(value: past.addingTimeInterval(-900)),
                    exp: .init(value: past), sid: 1))
            let expiredToken = try await Socket.connect(port: api.port)
            try await expiredToken.send(["type": "hello", "token": expired])
            #expect(try await expiredToken.next(type: "reply")["error"]["code"].string == "token_expired")
            #expect(try await expiredToken.closed()?.closeCode == .unknown(4401))

            let (binary, _) = try await api.liveSocket(alice)
            try await binary.send(frame: WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(bytes: [1, 2, 3])))
            #expect(try await binary.closed()?.closeCode == .unacceptableData)

            let (huge, _) = try await api.liveSocket(alice)
            try await huge.send(text: "{\"type\":\"ping\",\"pad\":\"" + String(repeating: "x", count: 70_000) + "\"}")
            #expect(try await huge.closed()?.closeCode == .messageTooLarge)

            // The server is unaffected.
            let (fine, _) = try await api.liveSocket(alice)
            #expect(try await fine.request(["type": "ping"])["status"].int == 200)
            await fine.close()
            #expect(try await api.call(.get, "/v1/ws").status == 426)
        }
    }

    @Test func floodsAndConnectionLimits() async throws {
        let config = testConfig {
            $0.realtime.framesPerSecond = 5
            $0.realtime.frameBurst = 5
            $0.realtime.maxConnectionsPerUser = 2
            $0.realtime.maxConnectionsPerIP = 4
        }
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            let (flooder, _) = try await api.liveSocket(alice)
            // The server may close the flooder before all 40 are out; a send on the closed socket ends the flood.
            for index in 0..<40 {
                do { try await flooder.send(["type": "ping", "id": "p\(index)"]) } catch { break }
            }
            var statuses: [Int64] = []
            // The first reply may take a while on a loaded machine; after it, the rest come together.
            while let reply = try? await flooder.next(type: "reply", timeout: .seconds(statuses.isEmpty ? 10 : 2)) {
                statuses.append(reply["status"].int ?? 0)
            }
            // The hello took one frame of the burst of 5 (every frame counts), which may have refilled since.
            #expect(statuses.prefix(4).allSatisfy { $0 == 200 }, "\(statuses)")
            #expect(statuses.contains(429))
            #expect(try await flooder.closed()?.closeCode == .unknown(4429))

            let (first, _) = try await api.liveSocket(alice)
            let (second, _) = try await api.liveSocket(alice)
            let third = try await Socket.connect(port: api.port)
            try await third.send(["type": "hello", "token": alice.token])
            _ = try? await third.next(type: "welcome", timeout: .seconds(1))
            #expect(try await third.closed()?.closeCode == .unknown(4429))

            // Two open plus two more sockets from this address; the fifth upgrade is refused with HTTP 429.
            try await Task.sleep(for: .milliseconds(300))  // the refused sockets' slots are released as they close
            let idle = try await Socket.connect(port: api.port)
            let spare = try await Socket.connect(port: api.port)
            #expect(throws: RawSocket.Failure.self) { _ = try RawSocket(port: api.port) }
            do {
                _ = try RawSocket(port: api.port)
            } catch {
                #expect("\(error)".contains("HTTP/1.1 429"), "\(error)")
            }
            for socket in [first, second, idle, spare] { await socket.close() }
        }
    }

    @Test func silentPeersAreClosed() async throws {
        let config = testConfig {
            // Generous: under the whole suite a hello can take over a second to be verified.
            $0.realtime.helloTimeoutSeconds = 5
            $0.realtime.heartbeatSeconds = 1
            $0.realtime.timeoutSeconds = 6
        }
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            let mute = try RawSocket(port: api.port)
            let sayNothing = try await mute.closed()
            #expect(sayNothing.closeCode == 4408)
            #expect(sayNothing.reason == "no hello in time")

            // A peer that said hello and then never answers pings is pinged, then closed.
            let deaf = try RawSocket(port: api.port)
            try deaf.send(["type": "hello", "token": alice.token])
            let ended = try await deaf.closed()
            #expect(ended.closeCode == 4408)
            #expect(ended.reason == "heartbeat timeout")
            #expect(ended.frames.first?.json["type"].string == "welcome")
            #expect(ended.frames.contains { $0.opcode == 0x9 }, "pinged before being closed")
            // That a client which answers pings stays is the session's decision, tested without waiting in
            // SessionTests.aSilentClientIsPingedThenClosed.
        }
    }

    @Test func anExpiredTokenIsAskedForAFreshOneBeforeTheClose() async throws {
        let config = testConfig { $0.realtime.reauthGraceSeconds = 2 }
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            // Long enough that both hellos land before it lapses on a loaded CI machine (it is whole seconds).
            let issuer = await TokenIssuer(secret: testSecret, accessSeconds: 8, refreshSeconds: 3600)
            let session = try #require(try await issuer.verify(alice.token).sessionId)
            let shortLived = try await issuer.accessToken(user: alice.id, session: session)

            let (renewing, _) = try await Socket.hello(port: api.port, token: shortLived)
            let (lapsing, _) = try await Socket.hello(port: api.port, token: shortLived)
            let ask = try await renewing.next(type: "reauthenticate", timeout: .seconds(15))
            #expect(ask["grace_s"].int == 2)
            let renewed = try await renewing.request(["type": "auth", "token": alice.token])
            #expect(renewed["status"].int == 200)
            #expect((renewed["result"]["expires_at"].int ?? 0) > Clock.nowMillis())
            _ = try await lapsing.next(type: "reauthenticate", timeout: .seconds(15))
            #expect(try await lapsing.closed()?.closeCode == .unknown(4401))
            #expect(try await renewing.request(["type": "ping"])["status"].int == 200)
            await renewing.close()
        }
    }

    /// A client that stops reading fills its bounded queue and is closed with 4503; the others keep receiving.
    @Test func aStalledReaderIsClosedWhileOthersKeepReceiving() async throws {
        let config = testConfig { $0.realtime.maxOutboundBytes = 65_536 }
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let carol = try await api.register("carol")
            let group = try await api.group(alice, title: "busy", members: [bob, carol])
            let stalled = try RawSocket(port: api.port, receiveBuffer: 4096)
            try stalled.send(["type": "hello", "token": carol.token])
            let (bobSocket, _) = try await api.liveSocket(bob)
            let (watcher, _) = try await api.liveSocket(alice)
            _ = try await watcher.request(["type": "presence.subscribe", "user_ids": [carol.id]])

            let text = String(repeating: "z", count: 4000)
            var sent = 0
            var carolClosed = false
            var slowest: Duration = .zero
            while sent < 3000 && !carolClosed {
                sent += 1
                let start = ContinuousClock.now
                try await api.send(alice, group, text + "\(sent)")
                let event = try await bobSocket.next(type: "event")
                slowest = max(slowest, ContinuousClock.now - start)
                #expect(event["event"]["data"]["message"]["seq"].int == Int64(sent))
                if let offline = try? await watcher.next(type: "presence", timeout: .zero) {
                    carolClosed = offline["online"].bool == false
                }
            }
            #expect(carolClosed, "carol was still online after \(sent) messages")
            // Generous for a loaded machine; a stalled reader that held others up would stall them until it was closed.
            #expect(slowest < .seconds(3), "bob waited \(slowest) for a message")
            let (code, _, frames) = try await stalled.closed()
            #expect(code == 4503)
            #expect(frames.count < sent)
            await bobSocket.close()
            await watcher.close()
        }
    }
}
