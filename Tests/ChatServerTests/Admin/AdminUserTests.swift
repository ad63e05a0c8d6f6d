import Foundation
import Testing

/// `chatctl user` and `chatctl sessions` against a live daemon: disabling locks an account out at once (sign-in,
/// tokens, refresh, open sockets), enabling lets it back in, a kick signs a user out everywhere.
@Suite struct AdminUserTests {
    @Test func disableEnableAndKick() async throws {
        let config = testConfig()
        try await withServer(config) { api in
            let socket = try await adminSocket(config)
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let listed = try await ChatctlTests.chatctl(["user", "list", "--json", "--socket", socket])
            #expect(listed.json["users"].array.compactMap { $0["user"]["handle"].string } == ["alice", "bob"])

            // Disable bob by handle: his socket closes, his tokens stop, he cannot sign in.
            let (bobSocket, _) = try await api.liveSocket(bob)
            let disabled = try await ChatctlTests.chatctl(["user", "disable", "bob", "--json", "--socket", socket])
            #expect(disabled.status == 0, "\(disabled.stderr)")
            #expect(disabled.json["ended_sessions"].int == 1)
            #expect(try await bobSocket.closed()?.closeCode == .unknown(4401))
            #expect(try await api.call(.get, "/v1/me", token: bob.token).status == 401)
            let refresh = try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": bob.refreshToken])
            #expect(refresh.status == 401, "\(refresh.text)")
            let login = try await api.call(.post, "/v1/auth/login", json: ["handle": "bob", "password": "correct horse"])
            #expect(login.status == 403)
            #expect(login.text.contains("disabled"))
            let shown = try await ChatctlTests.chatctl(["user", "show", "@bob", "--json", "--socket", socket])
            #expect(shown.json["account"]["disabled_at"].int != nil)
            #expect(shown.json["sessions"][0]["revoked_reason"].string == "account disabled")
            #expect(try await api.call(.get, "/v1/me", token: alice.token).status == 200, "nobody else is touched")

            let enabled = try await ChatctlTests.chatctl(["user", "enable", "\(bob.id)", "--socket", socket])
            #expect(enabled.status == 0)
            let again = try await api.call(.post, "/v1/auth/login", json: ["handle": "bob", "password": "correct horse"])
            #expect(again.status == 200, "\(again.text)")

            // A kick ends every session of alice's (her socket and her refresh token) but leaves the account open.
            let (aliceSocket, _) = try await api.liveSocket(alice)
            let kicked = try await ChatctlTests.chatctl(["sessions", "kick", "alice", "--json", "--socket", socket])
            #expect(kicked.json["ended_sessions"].int == 1)
            #expect(try await aliceSocket.closed()?.closeCode == .unknown(4401))
            #expect(try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": alice.refreshToken]).status == 401)
            let sessions = try await ChatctlTests.chatctl(["sessions", "list", "alice", "--json", "--socket", socket])
            #expect(sessions.json["sessions"][0]["revoked_reason"].string == "signed out by an operator")
            #expect(try await api.call(.post, "/v1/auth/login", json: ["handle": "alice", "password": "correct horse"]).status == 200)

            // An operator creates a user, then sets a password for one who lost theirs (their sessions end).
            let added = try await ChatctlTests.chatctl(
                ["user", "add", "carol", "--name", "Carol", "--password-stdin", "--json", "--socket", socket],
                input: "first password\n")
            #expect(added.status == 0, "\(added.stderr)")
            #expect(added.json["account"]["user"]["display_name"].string == "Carol")
            let carol = try await api.call(.post, "/v1/auth/login", json: ["handle": "carol", "password": "first password"])
            #expect(carol.status == 200)
            let passwd = try await ChatctlTests.chatctl(
                ["user", "passwd", "carol", "--json", "--socket", socket], input: "second password\n")
            #expect(passwd.json["ended_sessions"].int == 1)
            #expect(try await api.call(.post, "/v1/auth/login", json: ["handle": "carol", "password": "first password"]).status == 401)
            #expect(try await api.call(.post, "/v1/auth/login", json: ["handle": "carol", "password": "second password"]).status == 200)
            let taken = try await ChatctlTests.chatctl(["user", "add", "carol", "--socket", socket])
            #expect(taken.status == 1 && taken.stderr.contains("handle_taken"))
            let short = try await ChatctlTests.chatctl(["user", "passwd", "carol", "--socket", socket], input: "short\n")
            #expect(short.status == 1 && short.stderr.contains("invalid_request"))

            let nobody = try await ChatctlTests.chatctl(["user", "disable", "nobody", "--socket", socket])
            #expect(nobody.status == 1)
            #expect(nobody.stderr.contains("not_found"))
        }
    }
}
