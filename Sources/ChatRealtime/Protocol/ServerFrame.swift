import ChatCore

/// The frames the server sends, encoded by hand: they are on the path of every delivery, and an event's frame is
/// built once and written to every connection that gets it. `share/protocol.md` documents each one.
enum ServerFrame {
    /// The frame types the server sends, as `share/asyncapi.yaml` lists them.
    static let types = [
        "welcome", "event", "synced", "reset_required", "reply", "typing", "presence", "reauthenticate",
    ]

    static func welcome(
        id: FrameID?, identity: Identity, sessionId: String, cursor: EventCursor?, limits: RealtimeLimits,
        maxMessageBytes: Int
    ) -> String {
        var out = "{\"type\":\"welcome\"" + idField(id)
        out += ",\"user_id\":\(identity.userId),\"session_id\":\"\(sessionId)\""
        out += ",\"heartbeat_s\":\(limits.heartbeatSeconds),\"timeout_s\":\(limits.timeoutSeconds)"
        out += ",\"expires_at\":\(identity.expiresAt)"
        out += ",\"limits\":{\"max_frame_bytes\":\(limits.maxFrameBytes),\"frames_per_s\":\(limits.framesPerSecond)"
        out += ",\"frame_burst\":\(limits.frameBurst),\"max_message_bytes\":\(maxMessageBytes)}"
        if let cursor { out += ",\"resume_from\":\(cursor)" }
        return out + "}"
    }

    static func event(_ event: Event) -> String {
        "{\"type\":\"event\",\"event\":" + event.json + "}"
    }

    /// Replay is over: everything up to `cursor` has been sent; live events follow.
    static func synced(cursor: EventCursor) -> String {
        "{\"type\":\"synced\",\"cursor\":\(cursor)}"
    }

    static func resetRequired(cursor: EventCursor, oldestAvailable: EventCursor) -> String {
        "{\"type\":\"reset_required\",\"cursor\":\(cursor),\"oldest_available\":\(oldestAvailable)}"
    }

    static func reply(id: FrameID?, status: Int, result: String) -> String {
        "{\"type\":\"reply\"" + idField(id) + ",\"status\":\(status),\"result\":" + result + "}"
    }

    static func reply(id: FrameID?, error: ChatError) -> String {
        var out = "{\"type\":\"reply\"" + idField(id) + ",\"status\":\(error.code.status),\"error\":{\"code\":\""
        out += error.code.rawValue + "\",\"message\":"
        appendJSONString(error.message, to: &out)
        if let retryAfter = error.retryAfter { out += ",\"retry_after\":\(retryAfter)" }
        return out + "}}"
    }

    static func typing(conversation: ConversationID, user: UserID, active: Bool, expiresInMillis: Int) -> String {
        var out = "{\"type\":\"typing\",\"conversation_id\":\(conversation),\"user_id\":\(user)"
        out += active ? ",\"state\":\"start\",\"expires_in_ms\":\(expiresInMillis)}" : ",\"state\":\"stop\"}"
        return out
    }

    static func presence(_ state: PresenceState) -> String {
        "{\"type\":\"presence\"," + state.fields + "}"
    }

    static func presenceList(_ states: [PresenceState]) -> String {
        "{\"presence\":[" + states.map { "{" + $0.fields + "}" }.joined(separator: ",") + "]}"
    }

    static func reauthenticate(graceSeconds: Int) -> String {
        "{\"type\":\"reauthenticate\",\"grace_s\":\(graceSeconds)}"
    }

    static func quoted(_ string: String) -> String {
        var out = ""
        appendJSONString(string, to: &out)
        return out
    }

    private static func idField(_ id: FrameID?) -> String {
        guard let id else { return "" }
        return ",\"id\":" + id.json
    }
}

/// Whether a user is online, as `presence` frames and the presence list say it.
struct PresenceState: Sendable, Equatable {
    var userId: UserID
    var online: Bool
    var lastSeen: Millis?

    var fields: String {
        var out = "\"user_id\":\(userId),\"online\":\(online)"
        if let lastSeen { out += ",\"last_seen\":\(lastSeen)" }
        return out
    }
}
