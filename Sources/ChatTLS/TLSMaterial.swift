import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A certificate chain and its private key, read from PEM and checked before chatd serves with them: every
/// certificate parses, the key is the leaf's, and the leaf's validity is known. The daemon builds its TLS context
/// from it (at start, on reload, on `chatctl cert import`); `chatctl check` reports from it.
public struct TLSMaterial: Sendable {
    public let chain: [NIOSSLCertificate]
    public let key: NIOSSLPrivateKey
    /// The leaf's subject, as its distinguished name reads.
    public let subject: String
    public let notValidBefore: Date
    public let notValidAfter: Date
    /// Signed by its own key, as Debian's snakeoil certificate is: encrypts, but no app or browser trusts it.
    public let isSelfSigned: Bool

    /// Reads and checks the files a configuration names.
    public static func load(certificate: String, key: String) throws(TLSProblem) -> TLSMaterial {
        let chainPEM: String
        let keyPEM: String
        do {
            chainPEM = try String(contentsOfFile: certificate, encoding: .utf8)
        } catch {
            throw TLSProblem("cannot read the certificate \(certificate): \(error.localizedDescription)")
        }
        do {
            keyPEM = try String(contentsOfFile: key, encoding: .utf8)
        } catch {
            throw TLSProblem("cannot read the private key \(key): \(error.localizedDescription)")
        }
        return try parse(chainPEM: chainPEM, keyPEM: keyPEM)
    }

    /// Checks a chain (leaf first, then intermediates) and a key given as PEM text.
    public static func parse(chainPEM: String, keyPEM: String) throws(TLSProblem) -> TLSMaterial {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: chainPEM)
                .filter { $0.discriminator == "CERTIFICATE" }
        } catch {
            throw TLSProblem("the certificate file is not PEM: \(error)")
        }
        guard !documents.isEmpty else { throw TLSProblem("the certificate file holds no CERTIFICATE block") }
        let leaf: Certificate
        let privateKey: Certificate.PrivateKey
        do {
            leaf = try Certificate(pemDocument: documents[0])
        } catch {
            throw TLSProblem("the certificate does not parse: \(error)")
        }
        do {
            privateKey = try Certificate.PrivateKey(pemEncoded: keyPEM)
        } catch {
            throw TLSProblem("the private key does not parse (PEM: PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY): \(error)")
        }
        guard privateKey.publicKey == leaf.publicKey else {
            throw TLSProblem("the private key does not match the certificate (\(leaf.subject))")
        }
        do {
            let chain = try documents.map { try NIOSSLCertificate(bytes: $0.derBytes, format: .der) }
            let key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
            return TLSMaterial(
                chain: chain, key: key, subject: "\(leaf.subject)", notValidBefore: leaf.notValidBefore,
                notValidAfter: leaf.notValidAfter,
                isSelfSigned: leaf.issuer == leaf.subject && (try? leaf.publicKey.isValidSignature(leaf.signature, for: leaf)) == true)
        } catch {
            throw TLSProblem("the TLS library refuses the certificate or key: \(error)")
        }
    }

    /// Days until the leaf expires (negative once it has).
    public func daysLeft(now: Date = Date()) -> Int {
        Int((notValidAfter.timeIntervalSince(now) / 86_400).rounded(.down))
    }

    /// A server context for HTTP/1.1 (advertised by ALPN), TLS 1.2 and later.
    public func serverContext() throws(TLSProblem) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSProblem("cannot build a TLS context: \(error)")
        }
    }
}

/// Why a certificate or key cannot be served, in words for an operator.
public struct TLSProblem: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }
}
