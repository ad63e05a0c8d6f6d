import AsyncHTTPClient
import ChatConfiguration
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

@testable import ChatServer

/// HTTPS and WSS in process, with certificates made by the test; rotating them without dropping a connection.
@Suite struct TLSTests {
    /// A configuration serving `certificate` from files in its data folder, written as TOML too (for reloads).
    static func tlsConfig(_ certificate: TestCertificate, extra: String = "") throws -> (ChatConfig, String) {
        let folder = temporaryDirectory()
        let (certificatePath, keyPath) = try certificate.write(to: folder)
        let toml = """
            [server]
            port = 0
            [metrics]
            port = 0
            [storage]
            data_dir = "\(folder.path)"
            [auth]
            bcrypt_cost = 4
            jwt_secret = "\(testSecret)"
            [limits]
            auth_requests_per_minute = 100000
            [tls]
            certificate = "\(certificatePath)"
            key = "\(keyPath)"
            \(extra)
            """
        let file = folder.appendingPathComponent("chatd.toml").path
        try toml.write(toFile: file, atomically: true, encoding: .utf8)
        return (try ConfigReader.load(file: file, environment: [:]), file)
    }

    /// One HTTPS request with a client that trusts only `trusting`.
    static func https(
        _ method: HTTPMethod, port: Int, _ path: String, trusting: TestCertificate, json: [String: Any]? = nil
    ) async throws -> (status: Int, headers: HTTPHeaders, json: JSON) {
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: trusting.clientTLS))
        defer { _ = client.shutdown() }
        var request = HTTPClientRequest(url: "https://localhost:\(port)\(path)")
        request.method = method
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        }
        let response = try await client.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.headers, JSON(data: Data(buffer: body)))
    }

    static func register(_ handle: String, port: Int, trusting: TestCertificate) async throws -> String {
        let reply = try await https(
            .POST, port: port, "/v1/auth/register", trusting: trusting,
            json: ["handle": handle, "password": "correct horse"])
        #expect(reply.status == 201, "\(reply.json)")
        return reply.json["access_token"].string ?? ""
    }

    /// Whether a WSS client trusting only `certificate` gets through the handshake and a welcome.
    static func welcomes(port: Int, token: String, trusting certificate: TestCertificate) async -> Bool {
        guard let (socket, welcome) = try? await Socket.hello(port: port, token: token, tls: certificate.clientTLS)
        else { return false }
        await socket.close()
        return welcome["type"].string == "welcome"
    }

    @Test func httpsAndWSSWithAGeneratedCertificate() async throws {
        let certificate = try TestCertificate()
        let (config, _) = try Self.tlsConfig(certificate)
        try await withServer(config) { api in
            let port = api.client.port!
            let live = try await Self.https(.GET, port: port, "/livez", trusting: certificate)
            #expect(live.status == 200)
            #expect(live.headers["Strict-Transport-Security"] == ["max-age=31536000"])
            let token = try await Self.register("alice", port: port, trusting: certificate)
            let (socket, welcome) = try await Socket.hello(port: port, token: token, tls: certificate.clientTLS)
            #expect(welcome["type"].string == "welcome")
            let reply = try await socket.request(["type": "presence.subscribe", "user_ids": [Int]()])
            #expect(reply["status"].int == 200, "\(reply)")
            await socket.close()
            // A client that does not trust this certificate gets no further than the handshake.
            #expect(await Self.welcomes(port: port, token: token, trusting: try TestCertificate()) == false)
        }
    }

    @Test func reloadSwapsTheCertificateWhileAConnectionStaysOpen() async throws {
        let first = try TestCertificate(name: "first.test")
        let second = try TestCertificate(name: "second.test")
        let (config, file) = try Self.tlsConfig(first)
        try await withServer(config, configFile: file) { api in
            let port = api.client.port!
            let socketPath = try await adminSocket(config)
            let token = try await Self.register("alice", port: port, trusting: first)
            let (open, _) = try await Socket.hello(port: port, token: token, tls: first.clientTLS)

            try second.write(to: URL(fileURLWithPath: config.storage.dataDirectory))
            let reload = try await ChatctlTests.chatctl(["reload", "--json", "--socket", socketPath])
            #expect(reload.status == 0, "\(reload.stderr)")
            #expect(reload.json["applied"].array.isEmpty)  // the same paths: only the files changed
            #expect(reload.json["certificate"]["subject"].string == "CN=second.test")

            #expect(await Self.welcomes(port: port, token: token, trusting: second))
            #expect(await Self.welcomes(port: port, token: token, trusting: first) == false)
            // The connection made before the swap keeps working.
            let reply = try await open.request(["type": "presence.subscribe", "user_ids": [Int]()])
            #expect(reply["status"].int == 200, "\(reply)")
            await open.close()
        }
    }

    @Test func aBadConfigurationOrCertificateOnReloadIsRefused() async throws {
        let first = try TestCertificate(name: "first.test")
        let (config, file) = try Self.tlsConfig(first)
        try await withServer(config, configFile: file) { api in
            let port = api.client.port!
            let socketPath = try await adminSocket(config)
            let token = try await Self.register("alice", port: port, trusting: first)
            let valid = try String(contentsOfFile: file, encoding: .utf8)

            try (valid + "\n[alerts]\nwebhok_url = \"https://hooks.example.com/x\"\n")
                .write(toFile: file, atomically: true, encoding: .utf8)
            let typo = try await ChatctlTests.chatctl(["reload", "--socket", socketPath])
            #expect(typo.status == 78)
            #expect(typo.stderr.contains("unknown key 'alerts.webhok_url'"), "\(typo.stderr)")

            // A key that is not the certificate's: refused, and the running pair stays.
            try valid.write(toFile: file, atomically: true, encoding: .utf8)
            let other = try TestCertificate(name: "other.test")
            try Data(other.keyPEM.utf8).write(to: URL(fileURLWithPath: config.tls.key))
            let mismatch = try await ChatctlTests.chatctl(["reload", "--socket", socketPath])
            #expect(mismatch.status == 78)
            #expect(mismatch.stderr.contains("does not match"), "\(mismatch.stderr)")
            #expect(await Self.welcomes(port: port, token: token, trusting: first))
        }
    }

    @Test func certImportInstallsAMatchingPairAndRefusesAnother() async throws {
        let first = try TestCertificate(name: "first.test")
        let second = try TestCertificate(name: "second.test")
        let (config, _) = try Self.tlsConfig(first)
        try await withServer(config) { api in
            let port = api.client.port!
            let socketPath = try await adminSocket(config)
            let token = try await Self.register("alice", port: port, trusting: first)
            let renewal = temporaryDirectory()
            let (certificatePath, keyPath) = try second.write(to: renewal)

            let mismatched = try second.write(to: renewal, certificate: "only-cert.pem", key: "unused.pem").0
            let (_, otherKey) = try TestCertificate().write(to: renewal, certificate: "x.pem", key: "other-key.pem")
            let refused = try await ChatctlTests.chatctl(
                ["cert", "import", "--cert", mismatched, "--key", otherKey, "--socket", socketPath])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("does not match"), "\(refused.stderr)")

            let installed = try await ChatctlTests.chatctl(
                ["cert", "import", "--cert", certificatePath, "--key", keyPath, "--json", "--socket", socketPath])
            #expect(installed.status == 0, "\(installed.stderr)")
            #expect(installed.json["certificate"]["subject"].string == "CN=second.test")
            #expect(try String(contentsOfFile: config.tls.certificate, encoding: .utf8) == second.chainPEM)
            #expect(await Self.welcomes(port: port, token: token, trusting: second))
        }
    }

    @Test func sighupSwapsTheCertificateOfARunningChatd() async throws {
        let first = try TestCertificate(name: "first.test")
        let second = try TestCertificate(name: "second.test")
        let (config, file) = try Self.tlsConfig(first)
        let child = ChildChatd(
            arguments: ["--config", file],
            logFile: URL(fileURLWithPath: config.storage.dataDirectory).appendingPathComponent("chatd.log"))
        try await child.start()
        defer { child.terminate() }
        let token = try await Self.register("alice", port: child.port, trusting: first)
        let (open, _) = try await Socket.hello(port: child.port, token: token, tls: first.clientTLS)

        try second.write(to: URL(fileURLWithPath: config.storage.dataDirectory))
        child.process?.signal(SIGHUP)
        try await eventually { await Self.welcomes(port: child.port, token: token, trusting: second) }
        let reply = try await open.request(["type": "presence.subscribe", "user_ids": [Int]()])
        #expect(reply["status"].int == 200, "\(reply)")
        await open.close()
        let log = try String(contentsOf: child.logFile, encoding: .utf8)
        #expect(log.contains("msg=\"configuration reloaded\""), "\(log)")
    }

    @Test func theRedirectListenerRedirectsAndServesACMEChallenges() async throws {
        let certificate = try TestCertificate()
        let redirectPort = try freePort()
        let webroot = temporaryDirectory()
        let challenges = webroot.appendingPathComponent(".well-known/acme-challenge")
        try FileManager.default.createDirectory(at: challenges, withIntermediateDirectories: true)
        try Data("token-1.thumbprint".utf8).write(to: challenges.appendingPathComponent("token-1"))
        let (config, _) = try Self.tlsConfig(
            certificate, extra: "redirect_port = \(redirectPort)\nacme_webroot = \"\(webroot.path)\"")
        try await withServer(config) { api in
            let port = api.client.port!
            try await eventually { (try? await plain(port: redirectPort, "/")) != nil }
            let redirect = try await plain(port: redirectPort, "/v1/users/me?x=1", host: "chat.example.com")
            #expect(redirect.status == 308)
            #expect(redirect.headers["Location"] == ["https://chat.example.com:\(port)/v1/users/me?x=1"])
            let challenge = try await plain(port: redirectPort, "/.well-known/acme-challenge/token-1")
            #expect(challenge.status == 200)
            #expect(challenge.body == "token-1.thumbprint")
            #expect(try await plain(port: redirectPort, "/.well-known/acme-challenge/..%2Fchatd.toml").status == 404)
            #expect(try await plain(port: redirectPort, "/.well-known/acme-challenge/missing").status == 404)
        }
    }

    /// A plain HTTP request that does not follow redirects.
    func plain(port: Int, _ path: String, host: String? = nil) async throws
        -> (status: Int, headers: HTTPHeaders, body: String)
    {
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        defer { _ = client.shutdown() }
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        if let host { request.headers.replaceOrAdd(name: "Host", value: host) }
        let response = try await client.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 16)
        return (Int(response.status.code), response.headers, String(buffer: body))
    }
}

/// A TCP port nobody listens on now (bound to port 0 and released).
func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
