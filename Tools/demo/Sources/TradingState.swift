import StateCoordinator

/// The scene's shared state: the operator's halt switch and limit, each bot's position and
/// trade count (keyed by the bot's label). Python bots write the same JSON.
struct TradingState: Codable, Sendable {
    struct Limits: Codable, Sendable {
        /// No bot's position may go beyond ± this.
        var maxPosition = 100
    }

    var halt = false
    var limits = Limits()
    var positions: [String: Int] = [:]
    var trades: [String: Int] = [:]

    /// The store's JSON Schema: a typo in a member name (`/limits/maxPositon`) or a wrong type is
    /// refused before anything is committed, from statectl, Swift and Python alike.
    static let schema = """
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "type": "object",
          "required": ["halt", "limits", "positions", "trades"],
          "additionalProperties": false,
          "properties": {
            "halt": {"type": "boolean"},
            "limits": {
              "type": "object",
              "required": ["maxPosition"],
              "additionalProperties": false,
              "properties": {"maxPosition": {"type": "integer", "minimum": 0, "maximum": 10000}}
            },
            "positions": {"type": "object", "additionalProperties": {"type": "integer"}},
            "trades": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
          }
        }
        """
}
