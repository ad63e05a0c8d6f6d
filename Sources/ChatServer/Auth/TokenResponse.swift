import ChatCore
import Hummingbird

/// Tokens of a login session.
struct TokenResponse: ResponseEncodable {
    var user: UserProfile
    var accessToken: String
    var refreshToken: String
    var tokenType = "Bearer"
    /// Seconds until the access token expires.
    var expiresIn: Int
}
