import ChatCore
import Foundation
import HTTPTypes
import Testing

@testable import ChatConfiguration
@testable import ChatServer

/// A hostile request: what is sent, and the exact status and error code it must get. Every one of them must leave
/// the database as it was.
struct HostileRequest: CustomStringConvertible, Sendable {
    enum Caller: Sendable { case nobody, alice, carol, raw(String) }

    var name: String
    var method: HTTPRequest.Method
    var path: String
    var caller: Caller = .alice
    var body: [UInt8]? = nil
    var headers: HTTPFields = [:]
    var status: Int
    var code: String?

    var description: String { "\(name): \(method) \(path)" }

    init(
        _ name: String, _ method: HTTPRequest.Method, _ path: String, as caller: Caller = .alice, json: String? = nil,
        bytes: [UInt8]? = nil, headers: HTTPFields = [:], _ status: Int, _ code: String?
    ) {
        self.name = name
        self.method = method
        self.path = path
        self.caller = caller
        self.body = bytes ?? json.map { Array($0.utf8) }
        self.headers = headers
        self.status = status
        self.code = code
    }
}

/// The world the hostile requests are sent into: three users, a direct conversation of alice and bob with one
/// message, and a group. `{D}`, `{G}`, `{alice}`, `{bob}`, `{carol}` in a path or body are replaced by their ids.
struct HostileWorld: Sendable {
    var alice: TestUser
    var bob: TestUser
    var carol: TestUser
    var direct: Int64
    var group: Int64

    static func make(_ api: API) async throws -> HostileWorld {
        let alice = try await api.register("alice", password: "alice's password")
        let bob = try await api.register("bob", password: "bob's password")
        let carol = try await api.register("carol", password: "carol's password")
        let direct = try await api.direct(alice, with: bob)
        let group = try await api.group(alice, title: "Group", members: [bob])
        try await api.send(alice, direct, "hello bob", clientId: "first")
        return HostileWorld(alice: alice, bob: bob, carol: carol, direct: direct, group: group)
    }

    func fill(_ text: String) -> String {
        text.replacingOccurrences(of: "{D}", with: String(direct))
            .replacingOccurrences(of: "{G}", with: String(group))
            .replacingOccurrences(of: "{alice}", with: String(alice.id))
            .replacingOccurrences(of: "{bob}", with: String(bob.id))
            .replacingOccurrences(of: "{carol}", with: String(carol.id))
    }

    func token(_ caller: HostileRequest.Caller) -> String? {
        switch caller {
        case .nobody: nil
        case .alice: alice.token
        case .carol: carol.token
        case .raw(let token): token
        }
    }
}

/// Sends every request of `cases` and checks its status, error code and that nothing was written; then SQLite's
/// integrity check.
func sendHostile(_ cases: [HostileRequest], config: ChatConfig = testConfig()) async throws {
    try await withServer(config) { api in
        let world = try await HostileWorld.make(api)
        let watch = try DatabaseWatch(config)
        try await watch.settled()
        for request in cases {
            var headers = request.headers
            if let token = world.token(request.caller) {
                headers[.authorization] = token.hasPrefix("Bearer") || token.hasPrefix("Basic") ? token : "Bearer \(token)"
            }
            if request.body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
            // Ids are filled in where the body is text; a body that is not UTF-8 goes as it is.
            let body = request.body.map { bytes in
                String(validating: bytes, as: UTF8.self).map { Array(world.fill($0).utf8) } ?? bytes
            }
            let before = try watch.footprint()
            let reply = try await api.call(
                request.method, world.fill(request.path), rawBytes: body, headers: headers)
            #expect(reply.status == request.status, "\(request) → \(reply.status) \(reply.text.prefix(300))")
            #expect(reply.errorCode == request.code, "\(request) → \(reply.text.prefix(300))")
            if reply.status >= 400 {
                #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true, "\(request)")
            }
            #expect(try watch.footprint() == before, "\(request) wrote to the database")
        }
        #expect(try watch.integrityCheck() == "ok")
    }
}

@Suite struct HostileRESTTests {
    static let zalgo = "a" + String(repeating: "\u{0301}", count: 10_000)
    static let invalidUTF8: [UInt8] = Array(#"{"handle":"alice","password":"#.utf8) + [0x22, 0xFF, 0xFE, 0x22, 0x7D]

    static let signIn: [HostileRequest] = [
        .init("password then NUL", .post, "/v1/auth/login", as: .nobody,
              json: #"{"handle":"alice","password":"alice's password\u0000anything"}"#, 401, "unauthorized"),
        .init("password then a space", .post, "/v1/auth/login", as: .nobody,
              json: #"{"handle":"alice","password":"alice's password "}"#, 401, "unauthorized"),
        .init("password in another case", .post, "/v1/auth/login", as: .nobody,
              json: #"{"handle":"alice","password":"ALICE'S PASSWORD"}"#, 401, "unauthorized"),
        .init("password cut short", .post, "/v1/auth/login", as: .nobody,
              json: #"{"handle":"alice","password":"alice's passwor"}"#, 401, "unauthorized"),
        .init("password of 73 bytes", .post, "/v1/auth/login", as: .nobody,
              json: #"{"handle":"alice","password":"alice's password\#(String(repeating: "x", count: 57))"}"#, 401, "unauthorized"),
        .init("another user's password", .post, "/v1/auth/login", as: .nobody,
              json: #"{"handle":"alice","password":"bob's password"}"#, 401, "unauthorized"),
        .init("SQL in the handle", .post, "/v1/auth/login", as: .nobody,
              json: #"{"handle":"alice' OR '1'='1","password":"x' OR '1'='1"}"#, 401, "unauthorized"),
        .init("empty password", .post, "/v1/auth/login", as: .nobody,
              json: #"{"handle":"alice","password":""}"#, 401, "unauthorized"),
        .init("password missing", .post, "/v1/auth/login", as: .nobody, json: #"{"handle":"alice"}"#, 400, "invalid_request"),
        .init("password a number", .post, "/v1/auth/login", as: .nobody,
              json: #"{"handle":"alice","password":12345678}"#, 400, "invalid_request"),
        .init("password null", .post, "/v1/auth/login", as: .nobody,
              json: #"{"handle":"alice","password":null}"#, 400, "invalid_request"),
        .init("body an array", .post, "/v1/auth/login", as: .nobody, json: "[]", 400, "invalid_request"),
        .init("body null", .post, "/v1/auth/login", as: .nobody, json: "null", 400, "invalid_request"),
        .init("body empty", .post, "/v1/auth/login", as: .nobody, json: "", 400, "invalid_request"),
        .init("body truncated", .post, "/v1/auth/login", as: .nobody, json: #"{"handle":"alice","pass"#, 400, "invalid_request"),
        .init("body not UTF-8", .post, "/v1/auth/login", as: .nobody, bytes: invalidUTF8, 400, "invalid_request"),
        .init("body UTF-16", .post, "/v1/auth/login", as: .nobody,
              bytes: [0xFF, 0xFE] + Array(#"{"handle":"alice"}"#.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }),
              400, "invalid_request"),
        .init("nested 100,000 deep", .post, "/v1/auth/login", as: .nobody,
              json: String(repeating: "[", count: 60_000), 400, "invalid_request"),
        .init("register a taken handle in another case", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"ALICE","password":"a fine password"}"#, 409, "handle_taken"),
        .init("register a short handle", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"ab","password":"a fine password"}"#, 400, "invalid_request"),
        .init("register a handle with a space", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"a b c","password":"a fine password"}"#, 400, "invalid_request"),
        .init("register a handle of 33", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"\#(String(repeating: "h", count: 33))","password":"a fine password"}"#, 400, "invalid_request"),
        .init("register a handle with a NUL", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"dave\u0000","password":"a fine password"}"#, 400, "invalid_request"),
        .init("register a short password", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"dave","password":"seven!!"}"#, 400, "invalid_request"),
        .init("register a password with a tab", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"dave","password":"a fine\tpassword"}"#, 400, "invalid_request"),
        .init("register a password with a NUL", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"dave","password":"a fine\u0000password"}"#, 400, "invalid_request"),
        .init("register a password of 73 bytes", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"dave","password":"\#(String(repeating: "p", count: 73))"}"#, 400, "invalid_request"),
        .init("register a display name of one 20 KB grapheme", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"dave","password":"a fine password","display_name":"\#(zalgo)"}"#, 400, "invalid_request"),
        .init("register a display name with a control character", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"dave","password":"a fine password","display_name":"bell\u0007"}"#, 400, "invalid_request"),
        .init("register a blank display name", .post, "/v1/auth/register", as: .nobody,
              json: #"{"handle":"dave","password":"a fine password","display_name":"   "}"#, 400, "invalid_request"),
        .init("refresh an unknown token", .post, "/v1/auth/refresh", as: .nobody,
              json: #"{"refresh_token":"not-a-token"}"#, 401, "unauthorized"),
        .init("refresh with a number", .post, "/v1/auth/refresh", as: .nobody, json: #"{"refresh_token":5}"#, 400, "invalid_request"),
        .init("code by fax", .post, "/v1/auth/otp/request", as: .nobody,
              json: #"{"channel":"fax","destination":"+14155550123"}"#, 400, "invalid_request"),
        .init("code to a phone without a plus", .post, "/v1/auth/otp/request", as: .nobody,
              json: #"{"channel":"sms","destination":"4155550123"}"#, 400, "invalid_request"),
        .init("code to a non-address", .post, "/v1/auth/otp/request", as: .nobody,
              json: #"{"channel":"email","destination":"nobody"}"#, 400, "invalid_request"),
        .init("code to an address with a newline", .post, "/v1/auth/otp/request", as: .nobody,
              json: #"{"channel":"email","destination":"a@b.c\nBcc: x@y.z"}"#, 400, "invalid_request"),
        .init("change password with the wrong one", .post, "/v1/auth/password",
              json: #"{"current_password":"bob's password","new_password":"a new password"}"#, 401, "unauthorized"),
        .init("change password to a short one", .post, "/v1/auth/password",
              json: #"{"current_password":"alice's password","new_password":"short"}"#, 400, "invalid_request"),
        .init("change password without a token", .post, "/v1/auth/password", as: .nobody,
              json: #"{"current_password":"alice's password","new_password":"a new password"}"#, 401, "unauthorized"),
    ]

    static let tokens: [HostileRequest] = [
        .init("no Authorization", .get, "/v1/me", as: .nobody, 401, "unauthorized"),
        .init("an empty bearer", .get, "/v1/me", as: .raw("Bearer "), 401, "unauthorized"),
        .init("Basic", .get, "/v1/me", as: .raw("Basic YWxpY2U6cGFzc3dvcmQ="), 401, "unauthorized"),
        .init("three dots", .get, "/v1/me", as: .raw("a.b.c"), 401, "unauthorized"),
        .init("alg none", .get, "/v1/me",
              as: .raw("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwic2lkIjoxLCJleHAiOjQxMDI0NDQ4MDB9."),
              401, "unauthorized"),
        .init("a 12 KB token", .get, "/v1/me", as: .raw(String(repeating: "x", count: 12_000)), 401, "unauthorized"),
        .init("a token signed with another key", .get, "/v1/me",
              as: .raw("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwic2lkIjoxLCJleHAiOjQxMDI0NDQ4MDB9.c2lnbmF0dXJl"),
              401, "unauthorized"),
    ]

    static let ids: [HostileRequest] = {
        var cases: [HostileRequest] = []
        let bad = ["0", "-1", "abc", "1e3", "1.0", "99999999999999999999", "%00", "0x10", "%20", "1;DROP"]
        for id in bad {
            cases.append(.init("user id \(id)", .get, "/v1/users/\(id)", 404, "not_found"))
            cases.append(.init("conversation id \(id)", .get, "/v1/conversations/\(id)", 404, "not_found"))
            cases.append(.init("conversation id \(id) messages", .get, "/v1/conversations/\(id)/messages", 404, "not_found"))
            cases.append(.init("seq \(id)", .patch, "/v1/conversations/{D}/messages/\(id)", json: #"{"text":"x"}"#, 404, "not_found"))
            cases.append(.init("block user \(id)", .put, "/v1/users/\(id)/block", 404, "not_found"))
            cases.append(.init("read in conversation \(id)", .post, "/v1/conversations/\(id)/read", json: #"{"seq":1}"#, 404, "not_found"))
        }
        cases += [
            .init("someone else's conversation", .get, "/v1/conversations/{D}", as: .carol, 404, "not_found"),
            .init("someone else's history", .get, "/v1/conversations/{D}/messages", as: .carol, 404, "not_found"),
            .init("send into someone else's conversation", .post, "/v1/conversations/{D}/messages", as: .carol,
                  json: #"{"client_id":"x","text":"hi"}"#, 404, "not_found"),
            .init("a message that is not there", .patch, "/v1/conversations/{D}/messages/99", json: #"{"text":"x"}"#, 404, "not_found"),
            .init("someone else's message", .patch, "/v1/conversations/{D}/messages/1", as: .carol, json: #"{"text":"x"}"#, 404, "not_found"),
            .init("a handle that is not there", .get, "/v1/users/by-handle/alice'--", 404, "not_found"),
            .init("a handle with a NUL", .get, "/v1/users/by-handle/alice%00", 404, "not_found"),
            .init("a conversation with yourself", .post, "/v1/conversations/direct", json: #"{"user_id":{alice}}"#, 400, "invalid_request"),
            .init("a conversation with nobody", .post, "/v1/conversations/direct", json: #"{"user_id":999999}"#, 404, "not_found"),
            .init("blocking yourself", .put, "/v1/users/{alice}/block", 400, "invalid_request"),
            .init("adding members to a direct conversation", .post, "/v1/conversations/{D}/members",
                  json: #"{"user_ids":[{carol}]}"#, 400, "invalid_request"),
            .init("reading past the last message", .post, "/v1/conversations/{D}/read", json: #"{"seq":50}"#, 400, "invalid_request"),
            .init("a sync cursor ahead of the log", .get, "/v1/sync?cursor=999999999", 410, "reset_required"),
        ]
        return cases
    }()

    static let bodies: [HostileRequest] = [
        .init("text of 4,097 bytes", .post, "/v1/conversations/{D}/messages",
              json: #"{"client_id":"a","text":"\#(String(repeating: "x", count: 4097))"}"#, 413, "payload_too_large"),
        .init("empty text", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"a","text":""}"#, 400, "invalid_request"),
        .init("blank text", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"a","text":" \n\t "}"#, 400, "invalid_request"),
        .init("text with a NUL", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"a","text":"a\u0000b"}"#, 400, "invalid_request"),
        .init("text a number", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"a","text":5}"#, 400, "invalid_request"),
        .init("client id of 65", .post, "/v1/conversations/{D}/messages",
              json: #"{"client_id":"\#(String(repeating: "c", count: 65))","text":"hi"}"#, 400, "invalid_request"),
        .init("client id with a space", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"a b","text":"hi"}"#, 400, "invalid_request"),
        .init("client id empty", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"","text":"hi"}"#, 400, "invalid_request"),
        .init("client id missing", .post, "/v1/conversations/{D}/messages", json: #"{"text":"hi"}"#, 400, "invalid_request"),
        .init("reply_to 1.0", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"a","text":"hi","reply_to":1.0}"#, 400, "invalid_request"),
        .init("reply_to 1e0", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"a","text":"hi","reply_to":1e0}"#, 400, "invalid_request"),
        .init("reply_to a string", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"a","text":"hi","reply_to":"1"}"#, 400, "invalid_request"),
        .init("reply_to 2^64", .post, "/v1/conversations/{D}/messages",
              json: #"{"client_id":"a","text":"hi","reply_to":18446744073709551616}"#, 400, "invalid_request"),
        .init("text not UTF-8", .post, "/v1/conversations/{D}/messages",
              bytes: Array(#"{"client_id":"a","text":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8), 400, "invalid_request"),
        .init("a lone surrogate", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"a","text":"\ud800"}"#, 400, "invalid_request"),
        .init("a body over the limit", .post, "/v1/conversations/{D}/messages",
              json: #"{"client_id":"a","text":"\#(String(repeating: "x", count: 70_000))"}"#, 413, "payload_too_large"),
        .init("a group title of one 20 KB grapheme", .post, "/v1/conversations/group",
              json: #"{"title":"\#(zalgo)","member_ids":[{bob}]}"#, 400, "invalid_request"),
        .init("a group title of 129", .post, "/v1/conversations/group",
              json: #"{"title":"\#(String(repeating: "t", count: 129))","member_ids":[{bob}]}"#, 400, "invalid_request"),
        .init("a group title with a newline", .post, "/v1/conversations/group",
              json: #"{"title":"two\nlines","member_ids":[{bob}]}"#, 400, "invalid_request"),
        .init("member ids of strings", .post, "/v1/conversations/group",
              json: #"{"title":"t","member_ids":["{bob}"]}"#, 400, "invalid_request"),
        .init("member ids with a null", .post, "/v1/conversations/group",
              json: #"{"title":"t","member_ids":[null]}"#, 400, "invalid_request"),
        .init("a display name of one 20 KB grapheme", .patch, "/v1/me", json: #"{"display_name":"\#(zalgo)"}"#, 400, "invalid_request"),
        .init("a display name of 65", .patch, "/v1/me",
              json: #"{"display_name":"\#(String(repeating: "😀", count: 65))"}"#, 400, "invalid_request"),
        .init("a display name with a tab", .patch, "/v1/me", json: #"{"display_name":"a\tb"}"#, 400, "invalid_request"),
        .init("renaming a direct conversation", .patch, "/v1/conversations/{D}", json: #"{"title":"ours"}"#, 400, "invalid_request"),
        .init("JSON sent as text/plain", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"t","text":"hi"}"#,
              headers: [.contentType: "text/plain"], 415, "unsupported_media_type"),
        .init("JSON sent as a form", .post, "/v1/conversations/{D}/messages", json: #"{"client_id":"t","text":"hi"}"#,
              headers: [.contentType: "application/x-www-form-urlencoded"], 415, "unsupported_media_type"),
        .init("JSON sent as multipart without a boundary", .post, "/v1/conversations/{D}/messages",
              json: #"{"client_id":"t","text":"hi"}"#, headers: [.contentType: "multipart/form-data"], 415,
              "unsupported_media_type"),
        .init("no body", .post, "/v1/conversations/{D}/messages", 400, "invalid_request"),
        .init("read seq 0", .post, "/v1/conversations/{D}/read", json: #"{"seq":0}"#, 400, "invalid_request"),
        .init("read seq -1", .post, "/v1/conversations/{D}/read", json: #"{"seq":-1}"#, 400, "invalid_request"),
        .init("read seq 1.5", .post, "/v1/conversations/{D}/read", json: #"{"seq":1.5}"#, 400, "invalid_request"),
    ]

    static let reactions: [HostileRequest] = {
        let bad = ["a", "%F0%9F%91%8D%F0%9F%91%8D", "%00", "%F0%9F", "ok", "%23",
                   String(repeating: "%F0%9F%91%8D%E2%80%8D", count: 11) + "%F0%9F%91%8D", "%E2%80%8D"]
        return bad.map { .init("reaction \($0)", .put, "/v1/conversations/{D}/messages/1/reactions/\($0)", 400, "invalid_request") }
    }()

    static let queries: [HostileRequest] = [
        .init("limit 0", .get, "/v1/conversations/{D}/messages?limit=0", 400, "invalid_request"),
        .init("limit 1.0", .get, "/v1/conversations/{D}/messages?limit=1.0", 400, "invalid_request"),
        .init("limit abc", .get, "/v1/conversations/{D}/messages?limit=abc", 400, "invalid_request"),
        .init("limit 10000", .get, "/v1/conversations/{D}/messages?limit=10000", 400, "invalid_request"),
        .init("before 2^64", .get, "/v1/conversations/{D}/messages?before=18446744073709551616", 400, "invalid_request"),
        .init("before -1", .get, "/v1/conversations/{D}/messages?before=-1", 400, "invalid_request"),
        .init("sync cursor abc", .get, "/v1/sync?cursor=abc", 400, "invalid_request"),
        .init("sync cursor -1", .get, "/v1/sync?cursor=-1", 400, "invalid_request"),
        .init("search without q", .get, "/v1/search", 400, "invalid_request"),
        .init("search for punctuation", .get, "/v1/search?q=%22%2A%3A", 400, "invalid_request"),
        .init("search for 300 bytes", .get, "/v1/search?q=\(String(repeating: "a", count: 300))", 400, "invalid_request"),
        .init("search limit 0", .get, "/v1/search?q=hello&limit=0", 400, "invalid_request"),
        .init("search conversation abc", .get, "/v1/search?q=hello&conversation_id=abc", 400, "invalid_request"),
    ]

    static let methods: [HostileRequest] = [
        .init("DELETE /v1/me", .delete, "/v1/me", 405, "method_not_allowed"),
        .init("GET the direct route", .get, "/v1/conversations/direct", 405, "method_not_allowed"),
        .init("PATCH the group route", .patch, "/v1/conversations/group", json: "{}", 405, "method_not_allowed"),
        .init("an unknown path", .get, "/v1/nothing/here", 404, "not_found"),
        .init("a literal segment with no route of its own", .get, "/v1/users/by-handle", 404, "not_found"),
        .init("a path with dots", .get, "/v1/../../etc/passwd", 404, "not_found"),
    ]

    @Test func signingIn() async throws { try await sendHostile(Self.signIn) }
    @Test func badTokens() async throws { try await sendHostile(Self.tokens) }
    @Test func idsAndOthersThings() async throws { try await sendHostile(Self.ids) }
    @Test func bodies() async throws { try await sendHostile(Self.bodies) }
    @Test func reactionEmoji() async throws { try await sendHostile(Self.reactions) }
    @Test func queryParameters() async throws { try await sendHostile(Self.queries) }
    @Test func methodsAndPaths() async throws { try await sendHostile(Self.methods) }
}
