import ChatConfiguration
import ChatCore
import Crypto
import Foundation

/// The HS256 secret of chatd's own tokens: from the config, else generated once and kept (mode 0600) in the data
/// folder, so tokens stay valid across restarts.
func serverSecret(config: ChatConfig, dataDirectory: URL) throws -> String {
    if !config.auth.jwtSecret.isEmpty { return config.auth.jwtSecret }
    let file = dataDirectory.appendingPathComponent("jwt-secret")
    if let existing = try? String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
        existing.utf8.count >= 32
    {
        return existing
    }
    try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
    let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64URLEncoded()
    guard
        FileManager.default.createFile(
            atPath: file.path, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600])
    else { throw ServerSecretError(path: file.path) }
    return secret
}

/// The token secret could not be kept in the data folder: chatd does not start.
struct ServerSecretError: Error, CustomStringConvertible {
    var path: String
    var description: String { "cannot write the token secret to \(path); is the data folder writable?" }
}
