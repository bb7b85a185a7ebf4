extension JSONValue {
    /// This value with an RFC 7396 JSON merge patch applied: members of an object patch are merged
    /// recursively, `null` removes a member, and any non-object patch replaces the value whole.
    public func merging(patch: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var members: [JSONKey: JSONValue]
        if case .object(let existing) = self { members = existing } else { members = [:] }
        for (name, value) in patchMembers {
            if value == .null {
                members.removeValue(forKey: name)
            } else {
                members[name] = (members[name] ?? .null).merging(patch: value)
            }
        }
        return .object(members)
    }
}
