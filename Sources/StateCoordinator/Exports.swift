// The JSON types (JSONValue, JSONPointer, JSONPatch, …) are part of the library's API: a client
// that imports StateCoordinator has them.
@_exported import StateJSON
