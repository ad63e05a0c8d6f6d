import ChatRealtime
import Foundation
import Testing

@testable import ChatConfiguration
@testable import ChatServer

/// WebSocket frames that break RFC 6455 or the server's limits, sent by hand on a raw socket: each closes the
/// connection with its documented code, before `hello` and after it, and writes nothing.
@Suite struct HostileFrameTests {
    static func frame(
        _ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, masked: Bool = true
    ) -> [UInt8] {
        RawSocket.frame(opcode, payload, fin: fin, rsv: rsv, masked: masked)
    }

    static let ping = Array(#"{"type":"ping"}"#.utf8)
    static let flood = Array(repeating: frame(0x0, [], fin: false), count: 400).joined()

    static let cases: [(name: String, bytes: [UInt8], close: UInt16)] = [
        ("RSV1 on a text frame", frame(0x1, ping, rsv: 0b100), 1002),
        ("RSV2 on a text frame", frame(0x1, ping, rsv: 0b010), 1002),
        ("RSV3 on a ping", frame(0x9, [], rsv: 0b001), 1002),
        ("an unmasked text frame", frame(0x1, ping, masked: false), 1002),
        ("an unmasked ping", frame(0x9, [1], masked: false), 1002),
        ("an unmasked close", frame(0x8, [0x03, 0xE8], masked: false), 1002),
        ("a continuation without a message", frame(0x0, ping), 1002),
        ("a message inside a message", frame(0x1, [0x7B], fin: false) + frame(0x1, ping), 1002),
        ("a ping of 126 bytes", frame(0x9, Array(repeating: 0x61, count: 126)), 1002),
        ("a fragmented ping", frame(0x9, [1], fin: false), 1002),
        ("reserved opcode 3", frame(0x3, ping), 1002),
        ("reserved opcode 11", frame(0xB, []), 1002),
        ("a binary frame", frame(0x2, [1, 2, 3]), 1003),
        ("text that is not UTF-8", frame(0x1, [0x22, 0xFF, 0x22]), 1007),
        ("an overlong UTF-8 form", frame(0x1, [0x22, 0xC0, 0xAF, 0x22]), 1007),
        ("a UTF-8 surrogate", frame(0x1, [0x22, 0xED, 0xA0, 0x80, 0x22]), 1007),
        ("a character cut by the end of the message", frame(0x1, [0x22, 0xE2, 0x82]), 1007),
        ("bad UTF-8 across fragments", frame(0x1, [0x22, 0xE2], fin: false) + frame(0x0, [0x28, 0x22]), 1007),
        ("a frame over the limit", frame(0x1, Array(repeating: 0x61, count: 70_000)), 1009),
        ("fragments over the limit", frame(0x1, Array(repeating: 0x61, count: 40_000), fin: false)
            + frame(0x0, Array(repeating: 0x61, count: 40_000)), 1009),
        ("a 64-bit length with its top bit set", [0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], 1009),
        ("empty continuations, 400 of them", frame(0x1, [0x7B], fin: false) + flood, 4429),
        ("pings, 400 of them", Array(repeating: frame(0x9, []), count: 400).joined().map { $0 }, 4429),
        ("a text frame that is not a hello", frame(0x1, ping), 4400),
        ("a close frame", frame(0x8, [0x03, 0xE8]), 1000),
    ]

    @Test func everyViolationClosesWithItsCode() async throws {
        let config = testConfig()
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            let watch = try DatabaseWatch(config)
            let before = try watch.footprint()
            for (name, bytes, code) in Self.cases {
                let socket = try RawSocket(port: api.port)
                try socket.write(bytes)
                #expect(try await socket.closed().closeCode == code, "before hello: \(name)")
                guard code != 4400 else { continue }
                // The same after a hello: the session's state changes nothing.
                let greeted = try RawSocket(port: api.port)
                try greeted.send(["type": "hello", "token": alice.token])
                _ = try await greeted.frames(through: "synced")
                try greeted.write(bytes)
                #expect(try await greeted.closed().closeCode == code, "after hello: \(name)")
            }
            #expect(try watch.footprint() == before)
            #expect(try watch.integrityCheck() == "ok")
        }
    }

    @Test func aHelloSentWithTheUpgradeRequestIsWelcome() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let hello = Self.frame(0x1, Array(#"{"type":"hello","token":"\#(alice.token)"}"#.utf8))
            let socket = try RawSocket(port: api.port, early: hello)
            #expect(try await socket.frames(through: "synced") == ["welcome", "synced"])
        }
    }

    @Test func aHelloInFragmentsSplitInsideACharacterIsWelcome() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let hello = Array(#"{"type":"hello","id":"é€","token":"\#(alice.token)"}"#.utf8)
            let cut = hello.firstIndex(of: 0xE2)! + 1  // inside "€"
            let socket = try RawSocket(port: api.port)
            try socket.write(
                Self.frame(0x1, Array(hello[..<10]), fin: false) + Self.frame(0x9, [7])
                    + Self.frame(0x0, Array(hello[10..<cut]), fin: false) + Self.frame(0x0, [], fin: false)
                    + Self.frame(0x0, Array(hello[cut...])))
            #expect(try await socket.frames(through: "synced") == ["pong", "welcome", "synced"])
        }
    }
}

/// Ending a login session reaches its open sockets at once; other sessions of the same user stay.
@Suite struct SessionRevocationTests {
    func login(_ api: API, _ handle: String, _ password: String) async throws -> TestUser {
        let reply = try await api.call(.post, "/v1/auth/login", json: ["handle": handle, "password": password])
        #expect(reply.status == 200, "\(reply.text)")
        return TestUser(
            id: reply["user"]["id"].int ?? -1, handle: handle, token: reply["access_token"].string ?? "",
            refreshToken: reply["refresh_token"].string ?? "")
    }

    @Test func logoutClosesThatSessionsSocketsAndNoOthers() async throws {
        try await withServer { api in
            let phone = try await api.register("alice", password: "alice's password")
            let laptop = try await login(api, "alice", "alice's password")
            let (phoneSocket, _) = try await api.liveSocket(phone)
            let (laptopSocket, _) = try await api.liveSocket(laptop)
            #expect(try await api.call(.post, "/v1/auth/logout", token: phone.token).status == 204)
            let closed = try await phoneSocket.closed()
            #expect(closed?.closeCode == .unknown(4401))
            #expect(closed?.reason == "session ended: logout")
            #expect(try await laptopSocket.request(["type": "ping"])["status"].int == 200)
            await laptopSocket.close()
        }
    }

    @Test func aReusedRefreshTokenClosesItsSessionsSockets() async throws {
        try await withServer { api in
            let alice = try await api.register("alice", password: "alice's password")
            let (socket, _) = try await api.liveSocket(alice)
            let rotated = try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": alice.refreshToken])
            #expect(rotated.status == 200)
            let reused = try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": alice.refreshToken])
            #expect(reused.status == 401)
            let closed = try await socket.closed()
            #expect(closed?.closeCode == .unknown(4401))
            #expect(closed?.reason == "session ended: refresh token reuse")
        }
    }

    @Test func aPasswordChangeEndsEveryOtherSession() async throws {
        try await withServer { api in
            let phone = try await api.register("alice", password: "alice's password")
            let laptop = try await login(api, "alice", "alice's password")
            let (phoneSocket, _) = try await api.liveSocket(phone)
            let (laptopSocket, _) = try await api.liveSocket(laptop)
            let changed = try await api.call(
                .post, "/v1/auth/password", token: phone.token,
                json: ["current_password": "alice's password", "new_password": "a better password"])
            #expect(changed.status == 204, "\(changed.text)")
            let closed = try await laptopSocket.closed()
            #expect(closed?.closeCode == .unknown(4401))
            #expect(closed?.reason == "session ended: password changed")
            #expect(try await phoneSocket.request(["type": "ping"])["status"].int == 200, "the changing session stays")
            #expect(try await api.call(.get, "/v1/me", token: laptop.token).status == 401)
            #expect(try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": laptop.refreshToken]).status == 401)
            #expect(try await api.call(.post, "/v1/auth/login", json: ["handle": "alice", "password": "alice's password"]).status == 401)
            _ = try await login(api, "alice", "a better password")
            await phoneSocket.close()
        }
    }
}
