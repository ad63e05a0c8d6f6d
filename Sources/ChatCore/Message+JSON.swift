/// A hand-written encoder for the hottest payload, the message: every send and every replayed message event encodes
/// one, inside or next to the single writer. It produces exactly what `ChatJSON.encoder()` produces for `Message`
/// (sorted snake_case keys, absent nils), which a test checks.
extension Message {
    public var json: String {
        var out = "{"
        if let attachments { out += "\"attachments\":" + ChatJSON.string(attachments) + "," }
        out += "\"client_id\":"
        out.reserveCapacity(160 + (text?.utf8.count ?? 0))
        appendJSONString(clientId, to: &out)
        out += ",\"conversation_id\":\(conversationId),\"created_at\":\(createdAt)"
        if let deletedAt { out += ",\"deleted_at\":\(deletedAt)" }
        if let editedAt { out += ",\"edited_at\":\(editedAt)" }
        out += ",\"id\":\(id),\"reactions\":["
        for (index, reaction) in reactions.enumerated() {
            if index > 0 { out += "," }
            out += "{\"emoji\":"
            appendJSONString(reaction.emoji, to: &out)
            out += ",\"user_ids\":[" + reaction.userIds.map(String.init).joined(separator: ",") + "]}"
        }
        out += "]"
        if let replyToSeq { out += ",\"reply_to_seq\":\(replyToSeq)" }
        out += ",\"sender_id\":\(senderId),\"seq\":\(seq)"
        if let text {
            out += ",\"text\":"
            appendJSONString(text, to: &out)
        }
        out += "}"
        return out
    }
}

/// Appends `value` as a JSON string literal, escaped like Foundation's encoder with `.withoutEscapingSlashes`.
public func appendJSONString(_ value: String, to out: inout String) {
    let needsEscaping = value.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
    guard needsEscaping else {
        out += "\""
        out += value
        out += "\""
        return
    }
    var bytes: [UInt8] = [UInt8(ascii: "\"")]
    bytes.reserveCapacity(value.utf8.count + 16)
    for byte in value.utf8 {
        switch byte {
        case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
        case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
        case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
        case 0x0D: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
        case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
        case 0x08: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
        case 0x0C: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
        case ..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
        default: bytes.append(byte)
        }
    }
    bytes.append(UInt8(ascii: "\""))
    out += String(decoding: bytes, as: UTF8.self)
}
