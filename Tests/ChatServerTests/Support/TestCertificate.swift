import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A certificate for `localhost` and 127.0.0.1, made in the test (no openssl run): its PEM files, and a client TLS
/// configuration that trusts it and nothing else. Self-signed, or issued by a throwaway authority (`issued: true`,
/// as a real certificate is; the chain then holds the leaf only).
struct TestCertificate {
    let chainPEM: String
    let keyPEM: String
    let certificate: NIOSSLCertificate

    init(name: String = "localhost", notValidAfter: Date = Date().addingTimeInterval(90 * 86_400), issued: Bool = false) throws {
        let key = P256.Signing.PrivateKey()
        let certificateKey = Certificate.PrivateKey(key)
        let subject = try DistinguishedName { CommonName(name) }
        let authorityKey = issued ? Certificate.PrivateKey(P256.Signing.PrivateKey()) : certificateKey
        let issuer = issued ? try DistinguishedName { CommonName("chatd test authority") } : subject
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: certificateKey.publicKey,
            notValidBefore: Date().addingTimeInterval(-3600), notValidAfter: notValidAfter, issuer: issuer,
            subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            },
            issuerPrivateKey: authorityKey)
        chainPEM = try certificate.serializeAsPEM().pemString + "\n"
        keyPEM = key.pemRepresentation + "\n"
        self.certificate = try NIOSSLCertificate(bytes: Array(chainPEM.utf8), format: .pem)
    }

    /// Writes `cert.pem` and `key.pem` into `folder`; returns their paths.
    @discardableResult
    func write(to folder: URL, certificate: String = "cert.pem", key: String = "key.pem") throws -> (String, String) {
        let certificatePath = folder.appendingPathComponent(certificate).path
        let keyPath = folder.appendingPathComponent(key).path
        try Data(chainPEM.utf8).write(to: URL(fileURLWithPath: certificatePath))
        try Data(keyPEM.utf8).write(to: URL(fileURLWithPath: keyPath))
        return (certificatePath, keyPath)
    }

    /// A client configuration that trusts only this certificate.
    var clientTLS: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([certificate])
        return configuration
    }
}
