import ChatConfiguration
import ChatCore
import Foundation
import JWTKit

/// "Bring your own auth": access tokens minted by the app's own backend, verified with its HS256 secret or its
/// RS256/ES256 public key, with issuer and audience checked. Only the configured algorithm is accepted.
struct ExternalTokenVerifier: Sendable {
    let issuer: String
    let audience: String
    let algorithm: String
    let keys: JWTKeyCollection

    init(_ config: ChatConfig.ExternalAuth) async throws {
        issuer = config.issuer
        audience = config.audience
        algorithm = config.algorithm
        keys = JWTKeyCollection()
        switch config.algorithm {
        case "HS256":
            await keys.add(hmac: HMACKey(from: config.secret), digestAlgorithm: .sha256)
        case "RS256":
            let pem = try String(contentsOfFile: config.publicKeyFile, encoding: .utf8)
            await keys.add(rsa: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha256)
        case "ES256":
            let pem = try String(contentsOfFile: config.publicKeyFile, encoding: .utf8)
            await keys.add(ecdsa: try ES256PublicKey(pem: pem))
        default:
            throw ChatError.invalid("unsupported external_auth.algorithm \(config.algorithm)")
        }
    }

    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var iss: IssuerClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var name: String?
        var preferredUsername: String?

        enum CodingKeys: String, CodingKey {
            case sub, iss, aud, exp, name
            case preferredUsername = "preferred_username"
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    struct Subject: Sendable {
        var subject: String
        var handle: String?
        var displayName: String
        var expiresAt: Millis
    }

    func verify(_ token: String, alg: String?) async throws -> Subject {
        guard alg == algorithm else {
            throw ChatError(.unauthorized, "the token's algorithm is not accepted")
        }
        let claims = try await keys.verifiedClaims(token, as: Claims.self)
        guard claims.iss.value == issuer, claims.aud.value.contains(audience), !claims.sub.value.isEmpty,
            claims.sub.value.utf8.count <= 255, !claims.sub.value.utf8.contains(0)
        else {
            throw ChatError(.unauthorized, "the access token's issuer, audience or subject is not accepted")
        }
        let displayName = (try? Validate.displayName(claims.name ?? "")) ?? (claims.preferredUsername ?? "User")
        return Subject(
            subject: "\(issuer)|\(claims.sub.value)", handle: claims.preferredUsername,
            displayName: (try? Validate.displayName(displayName)) ?? "User",
            expiresAt: Millis(claims.exp.value.timeIntervalSince1970 * 1000))
    }
}
