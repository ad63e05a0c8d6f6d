import ChatCore
import Synchronization

/// Where the account service reports ended sessions once the store has committed them. The gateway is built after
/// the services, so it connects here at start-up; before that (and in tests without sockets) nobody listens.
final class SessionRevocations: Sendable {
    private let publisher = Mutex<(any SessionRevocationPublisher)?>(nil)

    func connect(_ publisher: any SessionRevocationPublisher) {
        self.publisher.withLock { $0 = publisher }
    }

    func revoked(user: UserID, session: SessionID?, reason: String) {
        let revocation = SessionRevocation(user: user, session: session, reason: reason)
        publisher.withLock { $0 }?.revoked(revocation)
    }
}
