import Crypto
import Foundation

/// Message encryption for Web Push (RFC 8291) in the `aes128gcm` content coding (RFC 8188): the push service
/// carries the payload but cannot read it; only the browser that holds the subscription's private key can.
///
/// The body is one record: a header (salt, record size, the sender's ephemeral public key) and the AES-128-GCM
/// ciphertext of the payload followed by the last-record delimiter 0x02.
public enum WebPushEncryption {
    /// The record size chatd writes. A payload fits one record: push services accept 4096 bytes of body.
    public static let recordSize = 4096
    /// The largest payload that fits: the body limit less the header (86 bytes), the tag (16) and the delimiter.
    public static let maxPayloadBytes = recordSize - 86 - 16 - 1

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Encrypts `payload` to the subscription's key `p256dh` (65-byte uncompressed point) and `auth` secret.
    /// `serverKey` and `salt` are fresh for each message; tests pass RFC 8291's to reproduce its example.
    public static func encrypt(
        _ payload: Data, p256dh: Data, auth: Data,
        serverKey: P256.KeyAgreement.PrivateKey = P256.KeyAgreement.PrivateKey(),
        salt: Data = Data((0..<16).map { _ in UInt8.random(in: 0...255) })
    ) throws -> Data {
        guard payload.count <= maxPayloadBytes else {
            throw Failure(description: "the payload is \(payload.count) bytes; Web Push carries at most \(maxPayloadBytes)")
        }
        guard salt.count == 16, auth.count == 16 else { throw Failure(description: "salt and auth are 16 bytes") }
        let userAgentKey: P256.KeyAgreement.PublicKey
        do {
            userAgentKey = try P256.KeyAgreement.PublicKey(x963Representation: p256dh)
        } catch {
            throw Failure(description: "the subscription's p256dh is not a P-256 point")
        }
        let serverPublic = serverKey.publicKey.x963Representation
        let (key, nonce) = try contentKey(
            secret: try serverKey.sharedSecretFromKeyAgreement(with: userAgentKey), auth: auth,
            userAgentPublic: p256dh, serverPublic: serverPublic, salt: salt)
        let sealed = try AES.GCM.seal(payload + [0x02], using: key, nonce: nonce)
        var body = Data(capacity: 86 + payload.count + 17)
        body.append(salt)
        withUnsafeBytes(of: UInt32(recordSize).bigEndian) { body.append(contentsOf: $0) }
        body.append(UInt8(serverPublic.count))
        body.append(serverPublic)
        body.append(sealed.ciphertext)
        body.append(sealed.tag)
        return body
    }

    /// Decrypts a one-record body as the browser does: what the tests' Web Push stand-in and the benchmark's sink
    /// use to check what chatd sent.
    public static func decrypt(_ body: Data, privateKey: P256.KeyAgreement.PrivateKey, auth: Data) throws -> Data {
        let bytes = [UInt8](body)
        guard bytes.count > 21 else { throw Failure(description: "the body is shorter than its header") }
        let keyLength = Int(bytes[20])
        guard bytes.count >= 21 + keyLength + 17 else { throw Failure(description: "the body is truncated") }
        let salt = Data(bytes[0..<16])
        let serverPublic = Data(bytes[21..<(21 + keyLength)])
        let sealed = Data(bytes[(21 + keyLength)...])
        let senderKey = try P256.KeyAgreement.PublicKey(x963Representation: serverPublic)
        let (key, nonce) = try contentKey(
            secret: try privateKey.sharedSecretFromKeyAgreement(with: senderKey), auth: auth,
            userAgentPublic: privateKey.publicKey.x963Representation, serverPublic: serverPublic, salt: salt)
        let box = try AES.GCM.SealedBox(
            nonce: nonce, ciphertext: sealed.dropLast(16), tag: sealed.suffix(16))
        var record = try AES.GCM.open(box, using: key)
        // Strip the padding (zeros) and the delimiter; 0x02 marks the last record.
        while record.last == 0 { record.removeLast() }
        guard record.last == 0x02 else { throw Failure(description: "the record has no last-record delimiter") }
        return record.dropLast()
    }

    /// RFC 8291 §3.4: the input keying material from the ECDH secret and the auth secret, then RFC 8188 §2.2–2.3:
    /// the content-encryption key and the nonce from it and the salt.
    private static func contentKey(
        secret: SharedSecret, auth: Data, userAgentPublic: Data, serverPublic: Data, salt: Data
    ) throws -> (SymmetricKey, AES.GCM.Nonce) {
        let keyInfo = Data("WebPush: info".utf8) + [0] + userAgentPublic + serverPublic
        let inputKey = secret.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: auth, sharedInfo: keyInfo, outputByteCount: 32)
        let pseudoRandomKey = HKDF<SHA256>.extract(inputKeyMaterial: inputKey, salt: salt)
        let key = HKDF<SHA256>.expand(
            pseudoRandomKey: pseudoRandomKey, info: Data("Content-Encoding: aes128gcm".utf8) + [0],
            outputByteCount: 16)
        let nonce = HKDF<SHA256>.expand(
            pseudoRandomKey: pseudoRandomKey, info: Data("Content-Encoding: nonce".utf8) + [0], outputByteCount: 12)
        return (key, try nonce.withUnsafeBytes { try AES.GCM.Nonce(data: Data($0)) })
    }
}
