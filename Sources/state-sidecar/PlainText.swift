import Hummingbird

/// A plain-text answer (`/livez`, `/readyz`, and every refusal), with its status.
struct PlainText: ResponseGenerator {
    var status: HTTPResponse.Status = .ok
    var text: String

    init(_ text: String) {
        self.text = text
    }

    init(_ status: HTTPResponse.Status, _ text: String) {
        self.status = status
        self.text = text
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response
    }

    /// The response itself, for code that builds one outside a route.
    var response: Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
