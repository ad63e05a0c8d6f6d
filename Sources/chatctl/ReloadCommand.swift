import ArgumentParser
import ChatAdmin
import ChatTLS
import Foundation

struct ReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Re-read the configuration and the certificate without dropping a connection (as SIGHUP does).",
        discussion: """
            Log levels, rate limits, operations thresholds and the certificate take effect at once; other changes \
            are listed as needing a restart. A configuration or certificate that does not load is refused (exit 78) \
            and the running one stays.
            """)
    @OptionGroup var daemon: DaemonOptions

    func run() async throws {
        try await chatctl.run {
            do {
                let report = try await daemon.client().post(AdminAPI.reload, as: ReloadReport.self)
                if daemon.json { return Output.json(report) }
                Output.reloaded(report)
            } catch let refused as AdminClient.Refused where refused.status == 400 {
                Output.error(refused.message)
                throw ExitCode(78)
            }
        }
    }
}

struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert", abstract: "The TLS certificate.", subcommands: [Import.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a certificate and key over the configured files and serve them at once.",
            discussion: """
                For a certbot deploy hook: chatctl cert import --cert "$RENEWED_LINEAGE/fullchain.pem" \
                --key "$RENEWED_LINEAGE/privkey.pem". chatctl reads the files (as root it can), checks that they \
                parse and match, and the daemon writes them over tls.certificate and tls.key and reloads them.
                """)
        @OptionGroup var daemon: DaemonOptions
        @Option(name: .customLong("cert"), help: "PEM: the certificate, then its intermediates.")
        var certificate: String
        @Option(name: .long, help: "PEM: its private key.")
        var key: String

        func run() async throws {
            try await chatctl.run {
                let chain: String
                let privateKey: String
                do {
                    chain = try String(contentsOfFile: certificate, encoding: .utf8)
                    privateKey = try String(contentsOfFile: key, encoding: .utf8)
                    _ = try TLSMaterial.parse(chainPEM: chain, keyPEM: privateKey)
                } catch {
                    Output.error("not installed: \(error)")
                    throw ExitCode(1)
                }
                let report = try await daemon.client().put(
                    AdminAPI.certificate, json: ["chain": chain, "key": privateKey], as: ReloadReport.self)
                if daemon.json { return Output.json(report) }
                Output.reloaded(report)
            }
        }
    }
}

extension Output {
    static func reloaded(_ report: ReloadReport) {
        print("reloaded: \(report.applied.isEmpty ? "nothing changed" : report.applied.joined(separator: ", "))")
        if !report.needsRestart.isEmpty {
            print("changed, applied at the next restart: \(report.needsRestart.joined(separator: ", "))")
        }
        if let certificate = report.certificate {
            print("certificate: \(certificate.subject), \(certificate.daysLeft) day(s) left")
        }
    }
}
