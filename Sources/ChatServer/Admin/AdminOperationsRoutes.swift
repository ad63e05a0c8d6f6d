import ChatAdmin
import ChatCore
import Hummingbird

/// Reloading the configuration and installing a certificate, for `chatctl reload` and `chatctl cert import`.
struct AdminOperationsRoutes {
    let services: ChatServices
    let reloader: Reloader

    func register(on router: Router<ChatRequestContext>) {
        router.post(RouterPath(AdminAPI.reload), use: reload)
        router.put(RouterPath(AdminAPI.certificate), use: importCertificate)
    }

    @Sendable func reload(_ request: Request, context: ChatRequestContext) async throws -> ReloadReport {
        try reloader.reload()
    }

    @Sendable func importCertificate(_ request: Request, context: ChatRequestContext) async throws -> ReloadReport {
        guard let tls = reloader.tls else {
            throw ChatError(.conflict, "TLS is not configured: set tls.certificate and tls.key, then restart chatd")
        }
        let body = try await request.decodeJSON(CertificateImport.self, limit: 1 << 20)
        do {
            let material = try tls.install(chainPEM: body.chain, keyPEM: body.key)
            context.logger.notice("certificate installed", metadata: ["subject": "\(material.subject)"])
            return ReloadReport(applied: ["tls.certificate"], needsRestart: [], certificate: CertificateReport(material))
        } catch {
            throw ChatError.invalid("certificate refused; the running one stays: \(error)")
        }
    }
}
extension ReloadReport: ResponseEncodable {}
