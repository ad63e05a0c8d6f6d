import ChatCore

/// Direct conversations, groups, members, roles, titles and mute: validation and authorization for every transport.
/// Routes only translate HTTP to these calls; the store authorizes against membership inside each transaction.
struct ConversationService: Sendable {
    let store: any ConversationRepository

    /// The one direct conversation with `peer`, created on first use (`created`).
    func openDirect(user: UserID, peer: UserID) async throws -> (ConversationView, created: Bool) {
        guard user != peer else { throw ChatError.invalid("a direct conversation needs another user") }
        return try await store.openDirect(user: user, peer: peer)
    }

    func createGroup(creator: UserID, title: String, members: [UserID]) async throws -> ConversationView {
        try await store.createGroup(creator: creator, title: try Validate.title(title), members: members)
    }

    /// A page of `user`'s conversations, newest activity first; `before` is the previous page's `next`.
    func list(for user: UserID, before: ConversationPageKey?, limit: Int?) async throws
        -> (views: [ConversationView], next: ConversationPageKey?)
    {
        try await store.conversations(
            for: user, before: before, limit: try Validate.limit(limit, default: 50, max: 100))
    }

    func show(_ conversation: ConversationID, for user: UserID) async throws -> ConversationView {
        try await store.conversation(conversation, for: user)
    }

    func rename(_ conversation: ConversationID, to title: String, actor: UserID) async throws -> ConversationView {
        try await store.setTitle(try Validate.title(title), conversation: conversation, actor: actor)
    }

    func members(of conversation: ConversationID, for user: UserID) async throws -> [Member] {
        try await store.members(of: conversation, for: user)
    }

    func addMembers(_ users: [UserID], to conversation: ConversationID, actor: UserID) async throws -> [Member] {
        guard !users.isEmpty else { throw ChatError.invalid("user_ids must not be empty") }
        return try await store.addMembers(users, conversation: conversation, actor: actor)
    }

    func changeRole(of member: UserID, to role: MemberRole, in conversation: ConversationID, actor: UserID)
        async throws -> [Member]
    {
        try await store.changeRole(of: member, to: role, conversation: conversation, actor: actor)
    }

    /// Removes `member`; removing yourself leaves the group.
    func removeMember(_ member: UserID, from conversation: ConversationID, actor: UserID) async throws {
        try await store.removeMember(member, conversation: conversation, actor: actor)
    }

    /// The conversations `user` is in, and the head cursor of the same snapshot (for the realtime hub).
    func memberships(of user: UserID) async throws -> (conversations: [ConversationID], head: EventCursor) {
        try await store.memberships(of: user)
    }

    func setMuted(_ muted: Bool, _ conversation: ConversationID, user: UserID) async throws -> ConversationView {
        try await store.setMuted(muted, conversation: conversation, user: user)
    }
}
