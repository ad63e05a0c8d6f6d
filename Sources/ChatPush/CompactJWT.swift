import ChatCore
import Crypto
import Foundation
import _CryptoExtras

/// JWTs as the vendors want them: `header.claims.signature`, base64url, signed with ES256 (APNs' provider token,
/// VAPID) or RS256 (the FCM OAuth grant). Only signing: chatd never accepts these tokens.
public enum CompactJWT {
    /// ES256: the signature is the raw 64-byte r‖s (RFC 7518 §3.4), not DER.
    public static func es256(
        keyId: String? = nil, claims: some Encodable, key: P256.Signing.PrivateKey
    ) throws -> String {
        let input = try signingInput(algorithm: "ES256", keyId: keyId, claims: claims)
        let signature = try key.signature(for: Data(input.utf8))
        return input + "." + signature.rawRepresentation.base64URLEncoded()
    }

    /// RS256: RSASSA-PKCS1-v1_5 with SHA-256.
    public static func rs256(
        keyId: String? = nil, claims: some Encodable, key: _RSA.Signing.PrivateKey
    ) throws -> String {
        let input = try signingInput(algorithm: "RS256", keyId: keyId, claims: claims)
        let signature = try key.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5)
        return input + "." + signature.rawRepresentation.base64URLEncoded()
    }

    private struct Header: Encodable {
        var alg: String
        var typ = "JWT"
        var kid: String?
    }

    private static func signingInput(algorithm: String, keyId: String?, claims: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let header = try encoder.encode(Header(alg: algorithm, kid: keyId))
        return header.base64URLEncoded() + "." + (try encoder.encode(claims)).base64URLEncoded()
    }
}
