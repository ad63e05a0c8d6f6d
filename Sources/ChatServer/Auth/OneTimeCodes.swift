import AsyncHTTPClient
import ChatConfiguration
import ChatCore
import Crypto
import Foundation
import Logging
import NIOCore

/// Sign-in with a 6-digit code sent to a phone number or an e-mail address.
///
/// Codes live for `otp.code_seconds` (5 minutes by default), allow `otp.max_attempts` wrong tries (then a new code
/// must be requested), and are stored only as an HMAC keyed by the server secret. The app's own SMS or e-mail sender
/// delivers them: chatd POSTs `{"channel","destination","code","expires_in"}` to `otp.webhook_url`. In the
/// development default the code is written to the log instead.
struct OneTimeCodes: Sendable {
    let store: any AccountRepository
    let config: ChatConfig.OTP
    let key: SymmetricKey
    let logToConsole: Bool
    let logger: Logger
    /// `otp.requests_per_hour` per destination, on top of the per-IP limit of every auth route.
    let perDestination: RateLimiter

    func request(channel: OTPChannel, destination: String) async throws {
        guard !config.webhookURL.isEmpty || logToConsole else {
            throw ChatError(.unavailable, "sign-in codes are not enabled on this server (otp.webhook_url is empty)")
        }
        try perDestination.enforce("otp:\(destination)", what: "codes for this destination")
        let code = String(format: "%06d", UInt32.random(in: 0..<1_000_000))
        try await store.storeOneTimeCode(
            destination: destination, channel: channel, codeHash: hash(code, destination),
            expiresAt: Clock.nowMillis() + Millis(config.codeSeconds) * 1000)
        if config.webhookURL.isEmpty {
            logger.notice(
                "development sign-in code", metadata: ["destination": "\(destination)", "code": "\(code)"])
            return
        }
        try await deliver(code: code, channel: channel, destination: destination)
    }

    func verify(destination: String, code: String) async throws -> UserProfile {
        guard code.count == 6, code.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw ChatError.invalid("code must be 6 digits")
        }
        let check = try await store.checkOneTimeCode(
            destination: destination, codeHash: hash(code, destination), maxAttempts: config.maxAttempts)
        switch check {
        case .accepted(let channel):
            return try await store.userForVerifiedDestination(destination, channel: channel)
        case .wrong(let left) where left > 0:
            throw ChatError(.invalidCode, "wrong code; \(left) attempt\(left == 1 ? "" : "s") left")
        case .wrong:
            throw ChatError(.invalidCode, "wrong code; no attempts left, request a new code")
        case .noLiveCode:
            throw ChatError(.invalidCode, "no valid code for this destination; request a new code")
        }
    }

    private func hash(_ code: String, _ destination: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data("\(destination)\n\(code)".utf8), using: key))
    }

    private struct Delivery: Encodable {
        var channel: OTPChannel
        var destination: String
        var code: String
        var expiresIn: Int
    }

    private func deliver(code: String, channel: OTPChannel, destination: String) async throws {
        var request = HTTPClientRequest(url: config.webhookURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body = try ChatJSON.encoder().encode(
            Delivery(channel: channel, destination: destination, code: code, expiresIn: config.codeSeconds))
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            guard (200..<300).contains(response.status.code) else {
                logger.error("the OTP webhook refused a code", metadata: ["status": "\(response.status.code)"])
                throw ChatError(.unavailable, "the code could not be sent; try again later")
            }
        } catch let error as ChatError {
            throw error
        } catch {
            logger.error("the OTP webhook failed", metadata: ["error": "\(error)"])
            throw ChatError(.unavailable, "the code could not be sent; try again later")
        }
    }
}
