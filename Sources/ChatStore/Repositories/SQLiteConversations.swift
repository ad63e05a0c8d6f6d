import ChatCore
import GRDB

/// Conversations on SQLite: direct conversations and groups, membership, roles, titles, mute, and the member's view
/// of them.
public struct SQLiteConversations: ConversationRepository {
    let database: StoreDatabase
    let maxGroupMembers: Int
}

extension SQLiteConversations {
    /// The one direct conversation between `user` and `peer`, created on first use.
    /// Refused when either has blocked the other.
    public func openDirect(user: UserID, peer: UserID) async throws -> (ConversationView, created: Bool) {
        guard user != peer else { throw ChatError.invalid("a direct conversation needs another user") }
        return try await database.write { context in
            let db = context.db
            guard try db.activeUserExists(peer) else { throw ChatError.notFound("user \(peer)") }
            guard try !db.isBlocked(between: user, and: peer) else {
                throw ChatError(.blocked, "you cannot open a direct conversation with this user")
            }
            let key = "\(min(user, peer)):\(max(user, peer))"
            if let existing = try ConversationID.fetchOne(
                db, sql: "SELECT id FROM conversations WHERE direct_key = ?", arguments: [key])
            {
                return (try Self.view(db, conversation: existing, user: user), false)
            }
            let id = try Self.insertConversation(
                db, context, kind: .direct, title: nil, directKey: key, creator: user, others: [peer])
            return (try Self.view(db, conversation: id, user: user), true)
        }
    }

    /// A new group owned by `creator`, with `members` as plain members.
    public func createGroup(creator: UserID, title: String, members: [UserID]) async throws -> ConversationView {
        let others = Array(Set(members).subtracting([creator])).sorted()
        guard others.count + 1 <= maxGroupMembers else {
            throw ChatError(.groupFull, "a group has at most \(maxGroupMembers) members")
        }
        return try await database.write { context in
            let db = context.db
            for other in others {
                guard try db.activeUserExists(other) else { throw ChatError.notFound("user \(other)") }
                try Self.requireNotBlocked(db, by: other, actor: creator)
            }
            let id = try Self.insertConversation(
                db, context, kind: .group, title: title, directKey: nil, creator: creator, others: others)
            return try Self.view(db, conversation: id, user: creator)
        }
    }

    /// The conversation as `user` sees it; `not_found` for a non-member.
    public func conversation(_ id: ConversationID, for user: UserID) async throws -> ConversationView {
        try await database.read { db in try Self.view(db, conversation: id, user: user) }
    }

    /// `user`'s conversations by last activity, newest first; `before` continues from a previous page's `next`.
    public func conversations(for user: UserID, before: ConversationPageKey?, limit: Int) async throws
        -> (views: [ConversationView], next: ConversationPageKey?)
    {
        try await database.read { db in
            var sql = Self.viewSQL + " WHERE me.user_id = ?"
            var arguments: StatementArguments = [user]
            if let before {
                sql += " AND (c.last_activity_at, c.id) < (?, ?)"
                arguments += [before.lastActivityAt, before.id]
            }
            sql += " ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?"
            arguments += [limit + 1]
            var views = try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.view(row:))
            var next: ConversationPageKey?
            if views.count > limit {
                views.removeLast()
                next = views.last.map { ConversationPageKey(lastActivityAt: $0.lastActivityAt, id: $0.id) }
            }
            return (views, next)
        }
    }

    public func members(of conversation: ConversationID, for user: UserID) async throws -> [Member] {
        try await database.read { db in
            _ = try Membership.require(db, conversation: conversation, user: user)
            return try Self.members(db, of: conversation)
        }
    }

    public func allConversations(after: ConversationID, member: UserID?, limit: Int) async throws
        -> [ConversationSummary]
    {
        try await database.read { db in
            var sql = "SELECT \(Self.summaryColumns) FROM conversations c WHERE c.id > ?"
            var arguments: StatementArguments = [after]
            if let member {
                sql += " AND EXISTS (SELECT 1 FROM members WHERE conversation_id = c.id AND user_id = ?)"
                arguments += [member]
            }
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql + " ORDER BY c.id LIMIT ?", arguments: arguments).map(Self.summary)
        }
    }

    public func inspect(_ id: ConversationID) async throws -> (ConversationSummary, [Member]) {
        try await database.read { db in
            guard
                let summary = try Row.fetchOne(
                    db, sql: "SELECT \(Self.summaryColumns) FROM conversations c WHERE c.id = ?", arguments: [id]
                ).map(Self.summary)
            else { throw ChatError.notFound("conversation \(id)") }
            return (summary, try Self.members(db, of: id))
        }
    }

    static let summaryColumns = "c.id, c.kind, c.title, c.created_at, c.last_seq, c.last_activity_at, c.member_count"

    static func summary(_ row: Row) -> ConversationSummary {
        ConversationSummary(
            id: row[0], kind: ConversationKind(rawValue: row[1]) ?? .group, title: row[2], createdAt: row[3],
            lastSeq: row[4], lastActivityAt: row[5], memberCount: row[6])
    }

    /// A conversation's members, in the order they joined.
    static func members(_ db: Database, of conversation: ConversationID) throws -> [Member] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT mb.user_id, u.handle, u.display_name, mb.role, mb.joined_at, mb.last_read_seq,
                       mb.last_delivered_seq
                FROM members mb JOIN users u ON u.id = mb.user_id
                WHERE mb.conversation_id = ? ORDER BY mb.joined_at, mb.user_id
                """, arguments: [conversation]
        ).map(member)
    }

    static func member(_ row: Row) -> Member {
        Member(
            userId: row[0], handle: row[1], displayName: row[2], role: MemberRole(rawValue: row[3]) ?? .member,
            joinedAt: row[4], lastReadSeq: row[5], lastDeliveredSeq: row[6])
    }

    /// Renames a group. Admins and the owner only.
    public func setTitle(_ title: String, conversation: ConversationID, actor: UserID) async throws
        -> ConversationView
    {
        try await database.write { context in
            let db = context.db
            _ = try Self.requireGroupManager(db, conversation: conversation, actor: actor, for: .title)
            let now = Clock.nowMillis()
            try db.execute(sql: "UPDATE conversations SET title = ? WHERE id = ?", arguments: [title, conversation])
            try context.append(
                .conversationUpdated, conversationId: conversation,
                storedData: ChatJSON.string(ConversationUpdatedData(title: title, by: actor)), at: now)
            return try Self.view(db, conversation: conversation, user: actor)
        }
    }

    /// Adds users to a group as members. Admins and the owner only; users already in it are left as they are.
    public func addMembers(_ users: [UserID], conversation: ConversationID, actor: UserID) async throws -> [Member] {
        let wanted = Array(Set(users)).sorted()
        let maxMembers = maxGroupMembers
        try await database.write { context in
            let db = context.db
            _ = try Self.requireGroupManager(db, conversation: conversation, actor: actor, for: .members)
            var newcomers: [UserID] = []
            for user in wanted where try Membership.find(db, conversation: conversation, user: user) == nil {
                guard try db.activeUserExists(user) else { throw ChatError.notFound("user \(user)") }
                try Self.requireNotBlocked(db, by: user, actor: actor)
                newcomers.append(user)
            }
            let count = try Int.fetchOne(
                db, sql: "SELECT member_count FROM conversations WHERE id = ?", arguments: [conversation]) ?? 0
            guard count + newcomers.count <= maxMembers else {
                throw ChatError(.groupFull, "a group has at most \(maxMembers) members")
            }
            let now = Clock.nowMillis()
            // Every newcomer sees every newcomer's member.added, so all start from the same cursor.
            let since = try SQLiteEventLog.head(db)
            for user in newcomers {
                try Self.insertMember(db, conversation: conversation, user: user, role: .member, since: since, at: now)
                try context.append(
                    .memberAdded, conversationId: conversation,
                    storedData: ChatJSON.string(MemberData(userId: user, role: .member, by: actor)), at: now)
            }
            try Self.countMembers(db, conversation: conversation, change: newcomers.count, at: now)
        }
        return try await members(of: conversation, for: actor)
    }

    /// Removes `target` from a group; `target == actor` leaves it. The owner removes anyone, an admin removes
    /// members. When the owner leaves, the longest-standing admin (else member) becomes the owner.
    public func removeMember(_ target: UserID, conversation: ConversationID, actor: UserID) async throws {
        try await database.write { context in
            let db = context.db
            let actorRole = try Membership.require(db, conversation: conversation, user: actor).role
            try Self.requireGroup(db, conversation, for: .members)
            guard let targetRole = try Membership.find(db, conversation: conversation, user: target)?.role else {
                throw ChatError.notFound("member \(target)")
            }
            if target != actor {
                guard actorRole.canManage, actorRole > targetRole else {
                    throw ChatError.forbidden("your role cannot remove this member")
                }
            }
            try Self.remove(context, target, role: targetRole, from: conversation, by: actor, at: Clock.nowMillis())
        }
    }

    /// Takes a member out of a group, with its events; an owner's leaving hands the group to an heir.
    static func remove(
        _ context: WriteContext, _ target: UserID, role targetRole: MemberRole, from conversation: ConversationID,
        by actor: UserID, at now: Millis
    ) throws {
        let db = context.db
        try db.execute(
            sql: "DELETE FROM members WHERE conversation_id = ? AND user_id = ?", arguments: [conversation, target])
        try Self.countMembers(db, conversation: conversation, change: -1, at: now)
        let data = ChatJSON.string(MemberData(userId: target, role: nil, by: actor))
        try context.append(
            .memberRemoved, conversationId: conversation, storedData: data, at: now)
        try context.append(
            .memberRemoved, conversationId: conversation, audience: target, storedData: data, at: now)
        if targetRole == .owner,
            let heir = try UserID.fetchOne(
                db,
                sql: """
                    SELECT user_id FROM members WHERE conversation_id = ?
                    ORDER BY role = 'admin' DESC, joined_at, user_id LIMIT 1
                    """, arguments: [conversation])
        {
            try Self.setRole(db, context, .owner, of: heir, conversation: conversation, by: actor, at: now)
        }
    }

    /// Changes a member's role. Only the owner does; making someone else owner hands ownership over
    /// (the previous owner becomes an admin).
    public func changeRole(of target: UserID, to role: MemberRole, conversation: ConversationID, actor: UserID)
        async throws -> [Member]
    {
        try await database.write { context in
            let db = context.db
            let actorRole = try Membership.require(db, conversation: conversation, user: actor).role
            try Self.requireGroup(db, conversation, for: .roles)
            guard actorRole == .owner else { throw ChatError.forbidden("only the owner changes roles") }
            guard target != actor else { throw ChatError.invalid("the owner hands ownership to another member") }
            guard try Membership.find(db, conversation: conversation, user: target) != nil else {
                throw ChatError.notFound("member \(target)")
            }
            let now = Clock.nowMillis()
            try Self.setRole(db, context, role, of: target, conversation: conversation, by: actor, at: now)
            if role == .owner {
                try Self.setRole(db, context, .admin, of: actor, conversation: conversation, by: actor, at: now)
            }
        }
        return try await members(of: conversation, for: actor)
    }

    /// Mutes or unmutes a conversation for `user` (their devices hear of it; nobody else does).
    public func setMuted(_ muted: Bool, conversation: ConversationID, user: UserID) async throws -> ConversationView {
        try await database.write { context in
            let db = context.db
            _ = try Membership.require(db, conversation: conversation, user: user)
            try db.execute(
                sql: "UPDATE members SET muted = ? WHERE conversation_id = ? AND user_id = ?",
                arguments: [muted, conversation, user])
            try context.append(
                .conversationSettings, conversationId: conversation, audience: user,
                storedData: ChatJSON.string(SettingsData(muted: muted)), at: Clock.nowMillis())
            return try Self.view(db, conversation: conversation, user: user)
        }
    }

    // MARK: For the realtime hub

    /// The conversations `user` is a member of, and the head cursor of the same snapshot: every membership change
    /// after `head` reaches the hub as a live event.
    public func memberships(of user: UserID) async throws -> (conversations: [ConversationID], head: EventCursor) {
        try await database.read { db in
            let conversations = try ConversationID.fetchAll(
                db.cachedStatement(sql: "SELECT conversation_id FROM members WHERE user_id = ?"), arguments: [user])
            return (conversations, try SQLiteEventLog.head(db))
        }
    }

    // MARK: Building blocks, run inside a write

    private static func insertConversation(
        _ db: Database, _ context: WriteContext, kind: ConversationKind, title: String?, directKey: String?,
        creator: UserID, others: [UserID]
    ) throws -> ConversationID {
        let now = Clock.nowMillis()
        try db.execute(
            sql: """
                INSERT INTO conversations (kind, title, direct_key, created_by, created_at, last_activity_at, member_count)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [kind.rawValue, title, directKey, creator, now, now, others.count + 1])
        let id = db.lastInsertedRowID
        let since = try SQLiteEventLog.head(db)
        try insertMember(db, conversation: id, user: creator, role: kind == .group ? .owner : .member, since: since, at: now)
        for other in others {
            try insertMember(db, conversation: id, user: other, role: .member, since: since, at: now)
        }
        let info = ConversationInfo(id: id, kind: kind, title: title, createdBy: creator, createdAt: now)
        try context.append(
            .conversationCreated, conversationId: id,
            storedData: ChatJSON.string(ConversationCreatedData(conversation: info, memberIds: [creator] + others)),
            at: now)
        return id
    }

    /// A new member sees the conversation's events from this point on, not its history of events.
    private static func insertMember(
        _ db: Database, conversation: ConversationID, user: UserID, role: MemberRole, since: EventCursor,
        at now: Millis
    ) throws {
        try db.execute(
            sql: "INSERT INTO members (conversation_id, user_id, role, joined_at, since_cursor) VALUES (?, ?, ?, ?, ?)",
            arguments: [conversation, user, role.rawValue, now, since])
    }

    private static func setRole(
        _ db: Database, _ context: WriteContext, _ role: MemberRole, of user: UserID, conversation: ConversationID,
        by actor: UserID, at now: Millis
    ) throws {
        try db.execute(
            sql: "UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ?",
            arguments: [role.rawValue, conversation, user])
        try context.append(
            .memberRoleChanged, conversationId: conversation,
            storedData: ChatJSON.string(MemberData(userId: user, role: role, by: actor)), at: now)
    }

    /// Moves the member count by `change` and marks the conversation active at `now`.
    private static func countMembers(_ db: Database, conversation: ConversationID, change memberDelta: Int, at now: Millis)
        throws
    {
        try db.execute(
            sql: "UPDATE conversations SET member_count = member_count + ?, last_activity_at = ? WHERE id = ?",
            arguments: [memberDelta, now, conversation])
    }

    /// What a direct conversation does not have, for the error that says so.
    enum GroupOnly: String {
        case title = "a direct conversation has no title"
        case members = "a direct conversation always has exactly its two members"
        case roles = "a direct conversation has no roles"
    }

    private static func requireGroup(_ db: Database, _ conversation: ConversationID, for what: GroupOnly) throws {
        let kind = try String.fetchOne(db, sql: "SELECT kind FROM conversations WHERE id = ?", arguments: [conversation])
        guard kind == ConversationKind.group.rawValue else { throw ChatError.invalid(what.rawValue) }
    }

    private static func requireGroupManager(
        _ db: Database, conversation: ConversationID, actor: UserID, for what: GroupOnly
    ) throws -> MemberRole {
        let role = try Membership.require(db, conversation: conversation, user: actor).role
        try requireGroup(db, conversation, for: what)
        guard role.canManage else { throw ChatError.forbidden("only admins and the owner manage this group") }
        return role
    }

    /// Nobody is put into a group by someone they have blocked.
    private static func requireNotBlocked(_ db: Database, by user: UserID, actor: UserID) throws {
        let blocked = try Bool.fetchOne(
            db, sql: "SELECT EXISTS(SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?)",
            arguments: [user, actor])
        if blocked == true { throw ChatError(.blocked, "user \(user) does not accept this from you") }
    }

    // MARK: The member's view

    static let viewSQL = """
        SELECT c.id, c.kind, c.title, c.created_at, c.last_seq, c.last_activity_at, c.member_count,
               me.role, me.muted, me.last_read_seq,
               p.id, p.handle, p.display_name, p.created_at, p.last_seen_at,
               \(Message.columns)
        FROM members me
        JOIN conversations c ON c.id = me.conversation_id
        LEFT JOIN members pm ON c.kind = 'direct' AND pm.conversation_id = c.id AND pm.user_id <> me.user_id
        LEFT JOIN users p ON p.id = pm.user_id
        LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq
        """

    static func view(_ db: Database, conversation: ConversationID, user: UserID) throws -> ConversationView {
        guard
            let row = try Row.fetchOne(
                db, sql: viewSQL + " WHERE me.user_id = ? AND me.conversation_id = ?",
                arguments: [user, conversation])
        else { throw ChatError.notFound("conversation \(conversation)") }
        return view(row: row)
    }

    static func view(row: Row) -> ConversationView {
        let lastSeq: Seq = row[4]
        let lastRead: Seq = row[9]
        let peerId: UserID? = row[10]
        let messageId: MessageID? = row[15]
        return ConversationView(
            id: row[0], kind: ConversationKind(rawValue: row[1]) ?? .group, title: row[2], createdAt: row[3],
            lastSeq: lastSeq, lastActivityAt: row[5], memberCount: row[6],
            role: MemberRole(rawValue: row[7]) ?? .member, muted: row[8], lastReadSeq: lastRead,
            unreadCount: max(0, lastSeq - lastRead),
            peer: peerId == nil ? nil : UserProfile(row: row, offset: 10),
            lastMessage: messageId == nil ? nil : Message(row: row, offset: 15))
    }
}
