extension JSONValue {
    /// The value as compact JSON, cut to 60 characters, for a message (a failed patch test, a
    /// schema violation).
    package var shortDescription: String {
        let text = compactJSON
        return text.count <= 60 ? text : String(text.prefix(57)) + "…"
    }
}
