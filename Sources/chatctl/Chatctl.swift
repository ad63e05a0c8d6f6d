import ArgumentParser
import ChatConfiguration
import ChatCore
import Foundation

/// `chatctl`: the operator's tool. It talks to the running daemon over its admin socket; commands that need no
/// daemon (`config check`, `version`) work offline. Exit codes: 0 ok, 1 failure, 64 usage, 69 daemon unreachable,
/// 78 bad configuration, 3 `status` when chatd is not running.
@main
struct Chatctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatctl",
        abstract: "Administer a running chatd.",
        discussion: """
            chatctl reaches chatd through its admin socket (admin.socket in chatd.toml, or <data_dir>/admin.sock); \
            membership of the chatd group is the permission. --json prints what the daemon answered, for scripts.
            """,
        version: ChatdVersion.current,
        subcommands: [
            StatusCommand.self, CheckCommand.self, UserCommand.self, SessionsCommand.self, ConversationCommand.self, MessageCommand.self,
            JobsCommand.self, MediaCommand.self, ConfigCommand.self, ReloadCommand.self, CertCommand.self,
            BackupCommand.self, RestoreCommand.self, StatsCommand.self, PushCommand.self,
            VersionCommand.self,
        ])
}

/// Where the daemon is: its configuration (for the socket path), or a socket given outright.
struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: "chatd's configuration file (default: $CHATD_CONFIG, else /etc/chatd/chatd.toml if present, else the development default).")
    var config: String?

    @Option(name: .long, help: "The admin socket, overriding the configuration's.")
    var socket: String?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    static let installedConfig = "/etc/chatd/chatd.toml"

    /// The configuration file this invocation means, if any.
    var configFile: String? {
        if let config { return config }
        if let variable = ProcessInfo.processInfo.environment["CHATD_CONFIG"], !variable.isEmpty { return variable }
        return FileManager.default.fileExists(atPath: Self.installedConfig) ? Self.installedConfig : nil
    }

    func loadConfig() throws -> ChatConfig {
        do {
            return try ConfigReader.load(file: configFile)
        } catch let error as ConfigError {
            Output.error("invalid configuration\n\(error)")
            throw ExitCode(78)
        }
    }

    func client() throws -> AdminClient {
        if let socket { return AdminClient(socket: socket) }
        return AdminClient(socket: try loadConfig().adminSocketPath)
    }
}

/// Runs a command body and turns its failures into chatctl's exit codes and messages on stderr.
func run(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as AdminClient.Unreachable {
        Output.error(error.description)
        throw ExitCode(69)
    } catch let error as AdminClient.Refused {
        Output.error(error.description)
        throw ExitCode(1)
    }
}

struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print chatctl's version.")

    func run() async throws {
        print(ChatdVersion.current)
    }
}
