import ChatCore
import Crypto
import Foundation
import JWTKit

/// chatd's own tokens: short-lived HS256 access JWTs, and opaque refresh tokens stored only as SHA-256 hashes.
public struct TokenIssuer: Sendable {
    static let issuer = "chatd"
    let keys: JWTKeyCollection
    let accessSeconds: Int
    let refreshSeconds: Int

    public init(secret: String, accessSeconds: Int, refreshSeconds: Int) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.accessSeconds = accessSeconds
        self.refreshSeconds = refreshSeconds
    }

    struct AccessClaims: JWTPayload {
        var sub: SubjectClaim
        var iss: IssuerClaim
        var iat: IssuedAtClaim
        var exp: ExpirationClaim
        var sid: SessionID

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
            guard iss.value == TokenIssuer.issuer else {
                throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "not issued by chatd")
            }
        }
    }

    public func accessToken(user: UserID, session: SessionID, now: Date = Date()) async throws -> String {
        // Whole seconds: JWT NumericDate readers in other languages expect integers.
        let now = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let claims = AccessClaims(
            sub: SubjectClaim(value: String(user)), iss: IssuerClaim(value: Self.issuer), iat: IssuedAtClaim(value: now),
            exp: ExpirationClaim(value: now.addingTimeInterval(TimeInterval(accessSeconds))), sid: session)
        return try await keys.sign(claims)
    }

    /// Verifies one of chatd's access tokens; the caller checks that its session is still active.
    func verify(_ token: String) async throws -> Identity {
        let claims = try await keys.verifiedClaims(token, as: AccessClaims.self)
        guard let user = UserID(claims.sub.value) else {
            throw ChatError(.unauthorized, "the access token is not valid")
        }
        return Identity(userId: user, sessionId: claims.sid, expiresAt: Millis(claims.exp.value.timeIntervalSince1970 * 1000))
    }

    /// A new opaque refresh token (256 random bits) and the hash that is stored.
    public func newRefreshToken() -> (token: String, hash: Data) {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        let token = bytes.base64URLEncoded()
        return (token, Self.hash(token))
    }

    public func refreshExpiry(from now: Millis = Clock.nowMillis()) -> Millis {
        now + Millis(refreshSeconds) * 1000
    }

    static func hash(_ token: String) -> Data {
        Data(SHA256.hash(data: Data(token.utf8)))
    }
}

extension JWTKeyCollection {
    /// Verifies a token's signature and claims: an expired token is `token_expired` (the client refreshes), anything
    /// else `unauthorized`, without saying more to whoever forged it.
    func verifiedClaims<Claims: JWTPayload>(_ token: String, as type: Claims.Type) async throws -> Claims {
        do {
            return try await verify(token, as: type)
        } catch let error as JWTError
            where error.errorType == .claimVerificationFailure && error.failedClaim is ExpirationClaim
        {
            throw ChatError(.tokenExpired, "the access token has expired; refresh it")
        } catch {
            throw ChatError(.unauthorized, "the access token is not valid")
        }
    }
}

/// The header of a JWT, read before verification so only allow-listed algorithms are ever tried.
struct JWTHeaderPeek: Decodable {
    var alg: String?
    var kid: String?

    /// The token's `alg` and its unverified `iss` claim.
    static func peek(_ token: String) -> (alg: String?, iss: String?) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return (nil, nil) }
        struct Issuer: Decodable { var iss: String? }
        let header = decode(parts[0]).flatMap { try? JSONDecoder().decode(JWTHeaderPeek.self, from: $0) }
        let payload = decode(parts[1]).flatMap { try? JSONDecoder().decode(Issuer.self, from: $0) }
        return (header?.alg, payload?.iss)
    }

    private static func decode(_ part: Substring) -> Data? {
        var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
