import Testing

@testable import ChatServer

/// Refresh tokens rotate on use; presenting a spent one revokes its whole family (theft detection).
@Suite struct RefreshTokenTests {
    @Test func refreshRotatesAndReuseRevokesTheFamily() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            let first = try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": alice.refreshToken])
            #expect(first.status == 200)
            let second = first["refresh_token"].string!
            #expect(second != alice.refreshToken)
            let access = first["access_token"].string!
            #expect(try await api.call(.get, "/v1/me", token: access).status == 200)

            // A thief replays the spent token: refused, and the session is revoked for everyone holding it.
            let replay = try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": alice.refreshToken])
            #expect(replay.status == 401)
            #expect(replay["error"]["message"].string?.contains("revoked") == true)
            #expect(try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": second]).status == 401)
            #expect(try await api.call(.get, "/v1/me", token: access).status == 401)
            #expect(try await api.call(.get, "/v1/me", token: alice.token).status == 401)

            // Another session of the same user is untouched.
            let login = try await api.call(
                .post, "/v1/auth/login", json: ["handle": "alice", "password": "correct horse"])
            #expect(try await api.call(.get, "/v1/me", token: login["access_token"].string!).status == 200)
            let other = try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": login["refresh_token"].string!])
            #expect(other.status == 200)
        }
    }

    @Test func logoutEndsTheSessionAndUnknownTokensAreRefused() async throws {
        try await withServer { api in
            let alice = try await api.register("alice")
            #expect(try await api.call(.post, "/v1/auth/logout", token: alice.token).status == 204)
            #expect(try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": alice.refreshToken]).status == 401)
            #expect(try await api.call(.post, "/v1/auth/refresh", json: ["refresh_token": "nope"]).status == 401)
            #expect(try await api.call(.post, "/v1/auth/refresh", json: [:]).status == 400)
        }
    }

    @Test func wrongPasswordsAndUnknownHandlesGetTheSameAnswer() async throws {
        try await withServer { api in
            _ = try await api.register("alice")
            let wrong = try await api.call(.post, "/v1/auth/login", json: ["handle": "alice", "password": "incorrect"])
            let unknown = try await api.call(.post, "/v1/auth/login", json: ["handle": "nobody", "password": "incorrect"])
            #expect(wrong.status == 401)
            #expect(wrong.text == unknown.text)
        }
    }
}
