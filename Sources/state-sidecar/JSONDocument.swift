import Hummingbird
import StateCoordinator

/// A JSON document the sidecar serves (`/readers`, `/status`, `/state`, `/recent`), in the same
/// form `statectl … --json` prints it: the documents are built as ``JSONValue``s shared with
/// statectl (StateDocuments), so one writer decides their exact bytes (key order, number forms),
/// not a second `Encodable` conformance that could drift from it.
struct JSONDocument: ResponseGenerator {
    enum Layout { case pretty, compact }

    var value: JSONValue
    var layout: Layout = .pretty
    /// An entity tag for the document (`/state`: the version).
    var entityTag: String?

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let entityTag { headers[.eTag] = entityTag }
        let text = (layout == .pretty ? value.prettyJSON : value.compactJSON) + "\n"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
