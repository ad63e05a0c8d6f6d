import ChatCore
import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import ChatPush

/// The vendors' JWTs verify with the public half of the key that signed them, with the header and claims they need.
@Suite struct CompactJWTTests {
    static func parts(_ token: String) -> (header: [String: Any], claims: [String: Any], input: Data, signature: Data) {
        let pieces = token.split(separator: ".").map(String.init)
        let json = { (text: String) in
            (try? JSONSerialization.jsonObject(with: Data(base64URLEncoded: text)!)) as? [String: Any] ?? [:]
        }
        return (json(pieces[0]), json(pieces[1]), Data((pieces[0] + "." + pieces[1]).utf8), Data(base64URLEncoded: pieces[2])!)
    }

    struct Claims: Encodable {
        var iss: String
        var iat: Int64
    }

    @Test func es256SignsWithRawSignatureAndKeyId() throws {
        let key = P256.Signing.PrivateKey()
        let token = try CompactJWT.es256(keyId: "ABC123DEFG", claims: Claims(iss: "TEAM", iat: 1_700_000_000), key: key)
        let (header, claims, input, signature) = Self.parts(token)
        #expect(header["alg"] as? String == "ES256")
        #expect(header["kid"] as? String == "ABC123DEFG")
        #expect(claims["iss"] as? String == "TEAM")
        #expect(signature.count == 64)
        let parsed = try P256.Signing.ECDSASignature(rawRepresentation: signature)
        #expect(key.publicKey.isValidSignature(parsed, for: input))
        #expect(!P256.Signing.PrivateKey().publicKey.isValidSignature(parsed, for: input))
    }

    @Test func rs256SignsPKCS1() throws {
        let key = VendorTests.rsa
        let token = try CompactJWT.rs256(claims: Claims(iss: "sa@example.iam.gserviceaccount.com", iat: 1), key: key)
        let (header, _, input, signature) = Self.parts(token)
        #expect(header["alg"] as? String == "RS256")
        #expect(header["kid"] == nil)
        #expect(
            key.publicKey.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: input, padding: .insecurePKCS1v1_5))
    }
}
