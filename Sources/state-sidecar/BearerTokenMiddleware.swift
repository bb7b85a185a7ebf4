import Foundation
import Hummingbird

/// Checks the token on every path but `/livez`, in constant time; 401 otherwise.
///
/// Programs send `Authorization: Bearer TOKEN`. A browser cannot set that header on the live
/// page's event stream, so HTTP Basic is taken too, with any user name and the token as the
/// password: the 401 asks the browser for it once, and it then sends it with every request of
/// the page.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/livez" { return try await next(request, context) }
        guard let presented = request.headers[.authorization].flatMap(Self.presentedToken),
            Self.constantTimeEqual(presented, token)
        else {
            var headers = HTTPFields()
            headers[values: .wwwAuthenticate] = ["Bearer realm=\"state-sidecar\"", "Basic realm=\"state-sidecar\", charset=\"UTF-8\""]
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(
                status: .unauthorized, headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: "a token is required: Authorization: Bearer TOKEN (or Basic, with the token as the password)\n")))
        }
        return try await next(request, context)
    }

    /// The token an `Authorization` value presents: a Bearer token, or a Basic password.
    static func presentedToken(_ authorization: String) -> [UInt8]? {
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2 else { return nil }
        let credentials = parts[1].trimmingCharacters(in: .whitespaces)
        switch parts[0].lowercased() {
        case "bearer":
            return Array(credentials.utf8)
        case "basic":
            guard let decoded = Data(base64Encoded: credentials), let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else { return nil }
            return Array(decoded[decoded.index(after: colon)...])
        default:
            return nil
        }
    }

    /// Compares every byte whatever the first difference (the length difference included).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = a.count ^ b.count
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= Int(x ^ y)
        }
        return difference == 0
    }
}
