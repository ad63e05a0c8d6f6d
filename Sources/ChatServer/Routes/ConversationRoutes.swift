import ChatCore
import Hummingbird

/// `/v1/conversations`: direct conversations, groups, members, roles, titles, mute, and the conversation list.
struct ConversationRoutes {
    let services: ChatServices
    private var conversations: ConversationService { services.conversations }

    func register(on group: RouterGroup<AuthenticatedContext>) {
        group.post("conversations/direct", use: openDirect)
        group.post("conversations/group", use: createGroup)
        group.get("conversations", use: list)
        group.get("conversations/{conversation_id}", use: show)
        group.patch("conversations/{conversation_id}", use: rename)
        group.get("conversations/{conversation_id}/members", use: members)
        group.post("conversations/{conversation_id}/members", use: addMembers)
        group.patch("conversations/{conversation_id}/members/{user_id}", use: changeRole)
        group.delete("conversations/{conversation_id}/members/{user_id}", use: removeMember)
        group.put("conversations/{conversation_id}/mute", use: mute)
        group.delete("conversations/{conversation_id}/mute", use: unmute)
    }

    struct ConversationResponse: ResponseEncodable {
        var conversation: ConversationView
    }

    struct ConversationListResponse: ResponseEncodable {
        var conversations: [ConversationView]
        /// Pass as `before` for the next page; absent on the last page.
        var next: String?
    }

    struct MembersResponse: ResponseEncodable {
        var members: [Member]
    }

    struct DirectRequest: Decodable {
        var userId: UserID
    }

    @Sendable func openDirect(_ request: Request, context: AuthenticatedContext) async throws
        -> EditedResponse<ConversationResponse>
    {
        let body = try await request.decodeJSON(DirectRequest.self, limit: services.maxBody)
        let (view, created) = try await conversations.openDirect(user: context.user, peer: body.userId)
        return EditedResponse(status: created ? .created : .ok, response: ConversationResponse(conversation: view))
    }

    struct GroupRequest: Decodable {
        var title: String
        var memberIds: [UserID]?
    }

    @Sendable func createGroup(_ request: Request, context: AuthenticatedContext) async throws
        -> EditedResponse<ConversationResponse>
    {
        let body = try await request.decodeJSON(GroupRequest.self, limit: services.maxBody)
        let view = try await conversations.createGroup(
            creator: context.user, title: body.title, members: body.memberIds ?? [])
        return EditedResponse(status: .created, response: ConversationResponse(conversation: view))
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> ConversationListResponse {
        let page = try await conversations.list(
            for: context.user, before: try request.query("before", as: ConversationPageKey.self),
            limit: try request.query("limit", as: Int.self))
        return ConversationListResponse(conversations: page.views, next: page.next?.description)
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> ConversationResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        return ConversationResponse(conversation: try await conversations.show(id, for: context.user))
    }

    struct RenameRequest: Decodable {
        var title: String
    }

    @Sendable func rename(_ request: Request, context: AuthenticatedContext) async throws -> ConversationResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        let body = try await request.decodeJSON(RenameRequest.self, limit: services.maxBody)
        return ConversationResponse(conversation: try await conversations.rename(id, to: body.title, actor: context.user))
    }

    @Sendable func members(_ request: Request, context: AuthenticatedContext) async throws -> MembersResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        return MembersResponse(members: try await conversations.members(of: id, for: context.user))
    }

    struct AddMembersRequest: Decodable {
        var userIds: [UserID]
    }

    @Sendable func addMembers(_ request: Request, context: AuthenticatedContext) async throws -> MembersResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        let body = try await request.decodeJSON(AddMembersRequest.self, limit: services.maxBody)
        return MembersResponse(members: try await conversations.addMembers(body.userIds, to: id, actor: context.user))
    }

    struct RoleRequest: Decodable {
        var role: MemberRole
    }

    @Sendable func changeRole(_ request: Request, context: AuthenticatedContext) async throws -> MembersResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        let target = try context.parameters.id("user_id", "member")
        let body = try await request.decodeJSON(RoleRequest.self, limit: services.maxBody)
        return MembersResponse(
            members: try await conversations.changeRole(of: target, to: body.role, in: id, actor: context.user))
    }

    /// Removes a member; removing yourself leaves the group.
    @Sendable func removeMember(_ request: Request, context: AuthenticatedContext) async throws -> NoContent {
        let id = try context.parameters.id("conversation_id", "conversation")
        let target = try context.parameters.id("user_id", "member")
        try await conversations.removeMember(target, from: id, actor: context.user)
        return NoContent()
    }

    @Sendable func mute(_ request: Request, context: AuthenticatedContext) async throws -> ConversationResponse {
        try await setMuted(true, context)
    }

    @Sendable func unmute(_ request: Request, context: AuthenticatedContext) async throws -> ConversationResponse {
        try await setMuted(false, context)
    }

    private func setMuted(_ muted: Bool, _ context: AuthenticatedContext) async throws -> ConversationResponse {
        let id = try context.parameters.id("conversation_id", "conversation")
        return ConversationResponse(conversation: try await conversations.setMuted(muted, id, user: context.user))
    }
}
