import Foundation
import Testing

@testable import ChatConfiguration

/// The configuration reader: the shipped file, precise errors, environment overrides.
@Suite struct ConfigTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func write(_ text: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chatd-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("chatd.toml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    @Test func theShippedFileIsValidAndDocumentsEveryKey() throws {
        let path = Self.repository.appendingPathComponent("etc/chatd.toml").path
        let config = try ConfigReader.load(file: path, environment: [:])
        #expect(config.storage.dataDirectory == "/var/lib/chatd")
        #expect(!config.isDevelopmentDefault)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for key in ConfigKey.all {
            let name = String(key.path.split(separator: ".").last!)
            #expect(text.contains("\n\(name) = "), "etc/chatd.toml does not document \(key.path)")
        }
        // Apart from the data folder, the shipped file states the defaults.
        var shipped = config
        shipped.storage.dataDirectory = ChatConfig().storage.dataDirectory
        shipped.isDevelopmentDefault = true
        #expect(shipped == ChatConfig())
    }

    @Test func whatDescribeShowsReadsBackToTheSameConfiguration() throws {
        var config = try ConfigReader.load(
            file: try write("[server]\nport = 9000\n[media]\nmax_video_bytes = 99999\n[jobs.notify]\nattempts = 9\n[log]\nhttp = \"debug\""),
            environment: [:])
        config.auth.jwtSecret = ""
        let described = ConfigReader.describe(config)
        #expect(described.count == ConfigKey.all.count)
        let toml = described.map { "\($0.key) = \($0.value)" }.joined(separator: "\n")
        var reread = try ConfigReader.load(file: try write(toml), environment: [:])
        reread.isDevelopmentDefault = config.isDevelopmentDefault
        #expect(reread == config)
        var secret = config
        secret.auth.apiKey = "an-api-key-of-at-least-24-characters"
        #expect(ConfigReader.describe(secret).first { $0.key == "auth.api_key" }?.value == "\"(set)\"")
    }

    @Test func problemsNameTheFileTheKeyAndWhatIsWrong() throws {
        let file = try write(
            """
            [server]
            prot = 8080
            port = "eighty"
            [storage]
            synchronous = "sometimes"
            [limits]
            max_group_members = 1
            """)
        #expect(throws: ConfigError.self) { try ConfigReader.load(file: file, environment: [:]) }
        do {
            _ = try ConfigReader.load(file: file, environment: [:])
        } catch let error as ConfigError {
            #expect(error.problems.contains("\(file): unknown key 'server.prot'"))
            #expect(error.problems.contains("\(file): key 'server.port' must be an integer from 0 to 65535"))
            #expect(error.problems.contains("\(file): key 'storage.synchronous' must be one of \"full\", \"normal\""))
            #expect(error.problems.contains("\(file): key 'limits.max_group_members' must be an integer from 2 to 100000, got 1"))
            #expect(error.problems.count == 4)
        }
        let broken = try write("[server\nport = 1")
        do {
            _ = try ConfigReader.load(file: broken, environment: [:])
            Issue.record("a syntax error was accepted")
        } catch let error as ConfigError {
            #expect(error.problems.first?.hasPrefix("\(broken):1:") == true, "\(error)")
        }
    }

    @Test func environmentOverridesTheFile() throws {
        let file = try write("[server]\nport = 9000\n")
        let config = try ConfigReader.load(
            file: file, environment: ["CHATD_SERVER_PORT": "9100", "CHATD_STORAGE_DATA_DIR": "/tmp/x", "HOME": "/root"])
        #expect(config.server.port == 9100)
        #expect(config.storage.dataDirectory == "/tmp/x")
        #expect(throws: ConfigError.self) {
            try ConfigReader.load(file: nil, environment: ["CHATD_SERVER_PORT": "many"])
        }
        #expect(throws: ConfigError.self) { try ConfigReader.load(file: nil, environment: ["CHATD_SERVR_PORT": "1"]) }
        let development = try ConfigReader.load(file: nil, environment: [:])
        #expect(development.isDevelopmentDefault)
        #expect(development.server.host == "127.0.0.1" && development.server.port == 8080)
    }

    /// The package keeps the instance's secrets out of the configuration file, in an environment file.
    @Test func secretsComeFromTheEnvironment() throws {
        let secret = String(repeating: "s", count: 43)
        let config = try ConfigReader.load(
            file: try write("[server]\nport = 8443\n"),
            environment: [
                "CHATD_AUTH_JWT_SECRET": secret, "CHATD_AUTH_MEDIA_URL_SECRET": secret + "m",
                "CHATD_AUTH_API_KEY": secret + "a",
            ])
        #expect(config.auth.jwtSecret == secret)
        #expect(config.auth.mediaURLSecret == secret + "m")
        #expect(config.auth.apiKey == secret + "a")
    }

    @Test func rulesAcrossKeys() throws {
        let file = try write(
            """
            [auth]
            jwt_secret = "short"
            media_url_secret = "short too"
            [external_auth]
            issuer = "https://app.example"
            algorithm = "RS256"
            """)
        do {
            _ = try ConfigReader.load(file: file, environment: [:])
            Issue.record("accepted")
        } catch let error as ConfigError {
            #expect(error.problems.contains { $0.contains("'auth.jwt_secret' must be at least 32 bytes") })
            #expect(error.problems.contains { $0.contains("'auth.media_url_secret' must be at least 32 bytes") })
            #expect(error.problems.contains { $0.contains("'external_auth.audience' is required") })
            #expect(error.problems.contains { $0.contains("'external_auth.public_key_file' is required for RS256") })
        }
    }
}

/// Where plain HTTP may be served, and what TLS needs.
@Suite struct TLSConfigTests {
    func load(_ text: String, environment: [String: String] = [:]) throws -> ChatConfig {
        let file = try ConfigTests().write(text)
        return try ConfigReader.load(file: file, environment: environment)
    }

    func problems(_ text: String) throws -> [String] {
        do {
            _ = try load(text)
            return []
        } catch let error as ConfigError {
            return error.problems
        }
    }

    @Test func plainHTTPOffLoopbackNeedsTLSOrAnExplicitYes() throws {
        let open = try problems("[server]\nhost = \"0.0.0.0\"")
        #expect(open.contains { $0.contains("plain HTTP on 0.0.0.0") })
        #expect(try problems("[server]\nhost = \"0.0.0.0\"\nallow_plain_http = true").isEmpty)
        #expect(try load("[server]\nhost = \"::1\"").server.host == "::1")
        let fromEnvironment = try load("[server]\nhost = \"0.0.0.0\"", environment: ["CHATD_SERVER_ALLOW_PLAIN_HTTP": "true"])
        #expect(fromEnvironment.server.allowPlainHTTP)
        #expect(try problems("[server]\nallow_plain_http = \"yes\"").contains { $0.contains("must be true or false") })
    }

    @Test func tlsKeysGoTogether() throws {
        #expect(try problems("[tls]\ncertificate = \"/etc/chatd/cert.pem\"").contains { $0.contains("go together") })
        #expect(try problems("[tls]\nredirect_port = 80").contains { $0.contains("needs 'tls.certificate'") })
        let served = try problems(
            "[server]\nhost = \"0.0.0.0\"\n[tls]\ncertificate = \"/c.pem\"\nkey = \"/k.pem\"\nacme_webroot = \"/var/www\"")
        #expect(served.count == 1)
        #expect(served.first?.contains("set 'tls.redirect_port'") == true)
    }

    @Test func subsystemLevelsOverTheGeneralOne() throws {
        let config = try load("[log]\nlevel = \"warning\"\nhttp = \"debug\"\nstore = \"\"\nformat = \"json\"")
        #expect(config.log.subsystems == ["http": "debug"])
        #expect(config.log.format == "json")
        #expect(try problems("[log]\nsockets = \"debug\"").contains { $0.contains("unknown key 'log.sockets'") })
    }
}
