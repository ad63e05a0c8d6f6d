import ChatFiles
import ChatTLS
import Foundation
import NIOSSL
import Synchronization

/// The TLS context new connections are served with. A reload swaps it; connections already open keep the one they
/// were accepted with, so rotating a certificate drops nobody.
final class ServerTLS: Sendable {
    private struct State {
        var certificatePath: String
        var keyPath: String
        var context: NIOSSLContext
        var material: TLSMaterial
    }

    private let state: Mutex<State>

    /// Loads the configured files; a problem with them stops the start.
    init(certificate: String, key: String) throws(TLSProblem) {
        let material = try TLSMaterial.load(certificate: certificate, key: key)
        state = Mutex(State(certificatePath: certificate, keyPath: key, context: try material.serverContext(), material: material))
    }

    var context: NIOSSLContext { state.withLock { $0.context } }
    var material: TLSMaterial { state.withLock { $0.material } }

    /// Reads the files (the configured ones, or new paths) again; on any problem the running certificate stays.
    @discardableResult
    func reload(certificate: String? = nil, key: String? = nil) throws(TLSProblem) -> TLSMaterial {
        let (currentCertificate, currentKey) = state.withLock { ($0.certificatePath, $0.keyPath) }
        let certificatePath = certificate ?? currentCertificate
        let keyPath = key ?? currentKey
        let material = try TLSMaterial.load(certificate: certificatePath, key: keyPath)
        let context = try material.serverContext()
        state.withLock {
            $0 = State(certificatePath: certificatePath, keyPath: keyPath, context: context, material: material)
        }
        return material
    }

    /// Installs a new certificate and key (checked first) in place of the configured files, then serves them. Each
    /// file lands whole (`DurableFile`); the key first, so a crash between the two leaves a pair `check` reports.
    func install(chainPEM: String, keyPEM: String) throws(TLSProblem) -> TLSMaterial {
        _ = try TLSMaterial.parse(chainPEM: chainPEM, keyPEM: keyPEM)
        let (certificatePath, keyPath) = state.withLock { ($0.certificatePath, $0.keyPath) }
        do {
            try DurableFile.write(Data(keyPEM.utf8), to: URL(fileURLWithPath: keyPath), mode: 0o600)
            try DurableFile.write(Data(chainPEM.utf8), to: URL(fileURLWithPath: certificatePath), mode: 0o644)
        } catch {
            throw TLSProblem("cannot write the certificate files: \(error.localizedDescription)")
        }
        return try reload()
    }
}
