import ChatCore
import Crypto
import Foundation
import Testing

@testable import ChatPush

/// RFC 8291's example reproduced byte for byte, and what a browser does with a body chatd made.
@Suite struct WebPushEncryptionTests {
    static func decode(_ text: String) -> Data { Data(base64URLEncoded: text)! }

    @Test func reproducesRFC8291AppendixA() throws {
        let serverKey = try P256.KeyAgreement.PrivateKey(
            rawRepresentation: Self.decode("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"))
        #expect(
            serverKey.publicKey.x963Representation.base64URLEncoded()
                == "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8")
        let body = try WebPushEncryption.encrypt(
            Data("When I grow up, I want to be a watermelon".utf8),
            p256dh: Self.decode("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"),
            auth: Self.decode("BTBZMqHH6r4Tts7J_aSIgg"), serverKey: serverKey, salt: Self.decode("DGv6ra1nlYgDCS1FRnbzlw"))
        #expect(
            body.base64URLEncoded()
                == "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")

        let browser = try P256.KeyAgreement.PrivateKey(
            rawRepresentation: Self.decode("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
        let opened = try WebPushEncryption.decrypt(body, privateKey: browser, auth: Self.decode("BTBZMqHH6r4Tts7J_aSIgg"))
        #expect(String(decoding: opened, as: UTF8.self) == "When I grow up, I want to be a watermelon")
    }

    @Test func eachMessageHasItsOwnKeyAndSaltAndOnlyTheSubscriptionOpensIt() throws {
        let browser = P256.KeyAgreement.PrivateKey()
        let auth = Data((0..<16).map { UInt8($0) })
        let payload = Data("{\"title\":\"Ann\",\"body\":\"hi\"}".utf8)
        let first = try WebPushEncryption.encrypt(payload, p256dh: browser.publicKey.x963Representation, auth: auth)
        let second = try WebPushEncryption.encrypt(payload, p256dh: browser.publicKey.x963Representation, auth: auth)
        #expect(first != second)
        #expect(first.count == 86 + payload.count + 1 + 16)
        #expect(try WebPushEncryption.decrypt(first, privateKey: browser, auth: auth) == payload)
        #expect(throws: (any Error).self) {
            try WebPushEncryption.decrypt(first, privateKey: P256.KeyAgreement.PrivateKey(), auth: auth)
        }
        var tampered = first
        tampered[tampered.count - 1] ^= 1
        #expect(throws: (any Error).self) { try WebPushEncryption.decrypt(tampered, privateKey: browser, auth: auth) }
    }

    @Test func refusesWhatCannotBeSent() {
        let browser = P256.KeyAgreement.PrivateKey()
        let auth = Data(count: 16)
        #expect(throws: WebPushEncryption.Failure.self) {
            try WebPushEncryption.encrypt(
                Data(count: WebPushEncryption.maxPayloadBytes + 1), p256dh: browser.publicKey.x963Representation,
                auth: auth)
        }
        #expect(throws: WebPushEncryption.Failure.self) {
            try WebPushEncryption.encrypt(Data("x".utf8), p256dh: Data([4] + Array(repeating: 1, count: 64)), auth: auth)
        }
    }
}
