import Foundation

// The store's interfaces, in the domain's words. `ChatStore` implements them on SQLite; the services of `ChatServer`
// and the realtime gateway hold only these, so a second backend (PostgreSQL) is a second set of implementations.
// Every write is one transaction that authorizes against membership, changes rows and appends its events; inputs
// are validated by the caller (the feature's service, with `Validate`).

/// Users, sign-in sessions, one-time codes, blocks and last-seen times.
public protocol AccountRepository: Sendable {
    /// A user with a handle (and a bcrypt hash when registered with a password); `handle_taken` if it is not free.
    func createUser(handle: String, displayName: String, passwordHash: String?) async throws -> UserProfile
    /// The user for a handle with their password hash; nil when unknown or without a password.
    func credentials(handle: String) async throws -> (UserID, String)?
    /// A user's password hash; nil when they have none.
    func passwordHash(user: UserID) async throws -> String?
    /// Replaces the password hash and ends every other active session of the user; returns the sessions ended.
    func changePassword(user: UserID, to hash: String, keeping: SessionID?) async throws -> [SessionID]
    /// The user who signs in with an app's own token, created on first sight (with the wanted handle if free).
    func userForExternalSubject(_ subject: String, handle: String?, displayName: String) async throws -> UserProfile
    /// The user who owns a verified phone number or e-mail address, created on first sign-in.
    func userForVerifiedDestination(_ destination: String, channel: OTPChannel) async throws -> UserProfile
    func profile(id: UserID) async throws -> UserProfile
    func profile(handle: String) async throws -> UserProfile
    func updateDisplayName(user: UserID, to displayName: String) async throws -> UserProfile
    /// Blocking twice is not an error.
    func block(user: UserID, target: UserID) async throws
    func unblock(user: UserID, target: UserID) async throws
    /// The users `user` has blocked, most recent first.
    func blockedUsers(of user: UserID) async throws -> [UserProfile]

    /// Starts a login session with its first refresh token (stored as a hash).
    func startSession(user: UserID, refreshTokenHash: Data, expiresAt: Millis) async throws -> SessionID
    /// Spends a refresh token and stores its successor; a reused token revokes its whole session.
    func rotateRefreshToken(_ presentedHash: Data, successorHash: Data, expiresAt: Millis) async throws
        -> RefreshOutcome
    func revokeSession(_ session: SessionID, reason: String) async throws
    func isSessionActive(_ session: SessionID, user: UserID) async throws -> Bool
    /// Stores a fresh code for a destination, replacing any earlier one.
    func storeOneTimeCode(destination: String, channel: OTPChannel, codeHash: Data, expiresAt: Millis) async throws
    /// Checks a code: a right one is spent, a wrong one counts, the last allowed failure deletes it.
    func checkOneTimeCode(destination: String, codeHash: Data, maxAttempts: Int) async throws -> CodeCheck

    /// Disables (or enables again) an account; disabling revokes every active session of the user, which it returns.
    func setDisabled(_ disabled: Bool, user: UserID) async throws -> [SessionID]
    func isDisabled(_ user: UserID) async throws -> Bool
    /// Revokes every active session of a user; returns them.
    func revokeAllSessions(of user: UserID, reason: String) async throws -> [SessionID]
    /// A user's login sessions, newest first.
    func sessions(of user: UserID) async throws -> [SessionSummary]
    /// Users for the operator, by id after `after`.
    func listUsers(after: UserID, limit: Int) async throws -> [AccountSummary]
    /// Sets a user's server-wide role.
    func setRole(_ role: ServerRole, user: UserID) async throws
    /// Deletes an account for good: every session revoked, every group left, blocks removed, and the row kept only
    /// as an anonymous sender ("Deleted user", no handle, email, phone or password; nobody can add, message or
    /// block it again); with `eraseMessages`, their messages become tombstones too.
    func deleteAccount(_ user: UserID, eraseMessages: Bool) async throws -> AccountDeletion

    /// Of `users`, those whose presence `viewer` may see, with their stored last-seen time.
    func presenceVisible(_ users: [UserID], viewer: UserID) async throws -> [PresenceVisibility]
    /// Stores the times users' last device disconnected, in one transaction.
    func saveLastSeen(_ times: [UserID: Millis]) async throws
}

/// Direct conversations, groups and their members.
public protocol ConversationRepository: Sendable {
    /// The one direct conversation between two users, created on first use; refused when either blocked the other.
    func openDirect(user: UserID, peer: UserID) async throws -> (ConversationView, created: Bool)
    func createGroup(creator: UserID, title: String, members: [UserID]) async throws -> ConversationView
    /// The conversation as `user` sees it; `not_found` for a non-member.
    func conversation(_ id: ConversationID, for user: UserID) async throws -> ConversationView
    /// `user`'s conversations by last activity, newest first; `before` continues from a previous page's `next`.
    func conversations(for user: UserID, before: ConversationPageKey?, limit: Int) async throws
        -> (views: [ConversationView], next: ConversationPageKey?)
    func members(of conversation: ConversationID, for user: UserID) async throws -> [Member]
    func setTitle(_ title: String, conversation: ConversationID, actor: UserID) async throws -> ConversationView
    func addMembers(_ users: [UserID], conversation: ConversationID, actor: UserID) async throws -> [Member]
    func removeMember(_ target: UserID, conversation: ConversationID, actor: UserID) async throws
    func changeRole(of target: UserID, to role: MemberRole, conversation: ConversationID, actor: UserID) async throws
        -> [Member]
    func setMuted(_ muted: Bool, conversation: ConversationID, user: UserID) async throws -> ConversationView
    /// Conversations for the operator, by id after `after` (with `member`: only theirs).
    func allConversations(after: ConversationID, member: UserID?, limit: Int) async throws -> [ConversationSummary]
    /// One conversation and its members, for the operator.
    func inspect(_ id: ConversationID) async throws -> (ConversationSummary, [Member])

    /// The conversations `user` is a member of, and the head cursor of the same snapshot.
    func memberships(of user: UserID) async throws -> (conversations: [ConversationID], head: EventCursor)
}

/// Messages, reactions, receipts and search.
public protocol MessageRepository: Sendable {
    /// Sends a message and calls `completion` (from the store's writer, never blocking) once it is durable or
    /// refused. The same `(sender, client_id)` always answers the original.
    func sendMessage(
        sender: UserID, conversation: ConversationID, clientId: String, text: String, replyTo: Seq?,
        attachments: [Int64], completion: @escaping @Sendable (Result<SendResult, any Error>) -> Void)
    /// With `after`: the messages following that seq; with `before`: those preceding it; with neither: the latest.
    func history(conversation: ConversationID, for user: UserID, before: Seq?, after: Seq?, limit: Int) async throws
        -> HistoryPage
    func editMessage(conversation: ConversationID, seq: Seq, text: String, editor: UserID) async throws -> Message
    func deleteMessage(conversation: ConversationID, seq: Seq, actor: UserID) async throws -> Message
    /// Deletes a message as the operator (moderation): a tombstone like any delete, whoever sent it.
    func moderateDelete(conversation: ConversationID, seq: Seq) async throws -> Message
    func react(_ emoji: String, add: Bool, conversation: ConversationID, seq: Seq, user: UserID) async throws -> Message
    /// Moves a read (or delivered) position forward; returns the member's positions after the change.
    func markReceipt(_ receipt: Receipt, upTo seq: Seq, conversation: ConversationID, user: UserID) async throws
        -> (lastReadSeq: Seq, lastDeliveredSeq: Seq)
    /// Messages of `user`'s conversations (or of one) matching every word of `query`, best first.
    func search(_ query: String, user: UserID, conversation: ConversationID?, limit: Int) async throws -> [SearchHit]
}

extension MessageRepository {
    /// The same send, awaited.
    public func sendMessage(
        sender: UserID, conversation: ConversationID, clientId: String, text: String, replyTo: Seq? = nil,
        attachments: [Int64] = []
    ) async throws -> SendResult {
        try await withCheckedThrowingContinuation { continuation in
            sendMessage(
                sender: sender, conversation: conversation, clientId: clientId, text: text, replyTo: replyTo,
                attachments: attachments
            ) {
                continuation.resume(with: $0)
            }
        }
    }
}

/// The event log as clients read it.
public protocol EventLogRepository: Sendable {
    /// The cursor of the newest event (0 when the log is empty).
    func headCursor() async throws -> EventCursor
    /// The events `user` may see after `cursor`, in cursor order.
    func sync(user: UserID, after cursor: EventCursor, limit: Int) async throws -> SyncPage
    /// Deletes events older than `cutoff`; returns how many.
    func pruneEvents(olderThan cutoff: Millis) async throws -> Int
}

/// The store as a running part: where committed events and jobs go, checkpoints, memory, closing.
public protocol StoreMaintenance: Sendable {
    /// Where committed events go (the realtime hub). Set once at start-up.
    func setEventPublisher(_ publisher: (any EventPublisher)?)
    /// Where the jobs of committed writes go (the job runner). Set once at start-up.
    func setJobPublisher(_ publisher: (any JobPublisher)?)
    /// Events older than this many days are pruned.
    var eventRetentionDays: Int { get }
    /// Moves the WAL back into the database file and truncates it.
    func checkpoint() async throws
    /// Frees caches grown with a load.
    func releaseMemory()
    func close() throws
    /// Messages sent at or after `since` (for `chatctl status`).
    func messageCount(since: Millis) async throws -> Int64
    /// Runs an empty write transaction through the writer: it answers when the database takes writes.
    func probeWrite() async throws
    /// The database file and its write-ahead log, in bytes.
    func fileSizes() -> (database: Int64, wal: Int64)
    /// Reports each group commit's duration and number of writes (for metrics). Set once at start-up.
    func observeCommits(_ observer: @escaping @Sendable (Duration, Int) -> Void)
    /// Reports each checkpoint's duration and the WAL frames it copied into the database file. Set once at start-up.
    func observeCheckpoints(_ observer: @escaping @Sendable (Duration, Int) -> Void)
}
