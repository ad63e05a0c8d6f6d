import ArgumentParser
import ChatConfiguration
import ChatServer
import Foundation
import Hummingbird
import Logging

/// The chatd daemon: `chatd` serves (on the embedded development default when no config is given);
/// `chatd check-config FILE` validates a configuration and exits 0, or 78 (EX_CONFIG) with every problem listed.
@main
struct Chatd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatd",
        abstract: "A chat backend in one box.",
        subcommands: [Serve.self, CheckConfig.self],
        defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the server (the default command).")

    @Option(name: .long, help: "A TOML configuration file. Without one, chatd runs on its development default.")
    var config: String?

    func run() async throws {
        let file = config ?? ProcessInfo.processInfo.environment["CHATD_CONFIG"]
        let settings: ChatConfig
        do {
            settings = try ConfigReader.load(file: file)
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("chatd: invalid configuration\n\(error)\n".utf8))
            throw ExitCode(78)
        }
        let levels = ChatLogHandler.bootstrap(settings.log)
        let logger = Logger(label: "chatd")
        if settings.isDevelopmentDefault {
            logger.notice(
                "no configuration file: running on the DEVELOPMENT DEFAULT (plain HTTP on loopback, sign-in codes in this log); pass --config /etc/chatd/chatd.toml in production",
                metadata: [
                    "address": "http://\(settings.server.host):\(settings.server.port)",
                    "data_dir": "\(URL(fileURLWithPath: settings.storage.dataDirectory).standardizedFileURL.path)",
                ])
        } else {
            logger.notice("configuration loaded", metadata: ["file": "\(file ?? "")"])
        }
        raiseOpenFileLimit(logger: logger)
        do {
            let app = try await buildApplication(config: settings, logger: logger, configFile: file, logLevels: levels)
            try await app.runService()
        } catch let error as ConfigError {
            logger.critical("cannot start: \(error)")
            throw ExitCode(78)
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a configuration file; exit 0 when valid, 78 when not.")

    @Argument(help: "The TOML configuration file to check.")
    var file: String

    func run() throws {
        do {
            _ = try ConfigReader.load(file: file)
            print("\(file): configuration is valid")
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(78)
        }
    }
}

/// Every WebSocket is an open file: lift the soft limit to the hard one (as systemd's LimitNOFILE would), and say
/// how many connections that allows.
func raiseOpenFileLimit(logger: Logger) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    logger.info("open file limit", metadata: ["nofile": "\(limit.rlim_cur)"])
}
