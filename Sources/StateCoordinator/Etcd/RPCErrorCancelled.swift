import GRPCCore

/// The error a watch cancelled by the server for another reason than compaction stands for
/// (a member that lost its leader cancels watches that asked for one).
enum RPCErrorCancelled {
    static func make(_ reason: String) -> RPCError {
        RPCError(code: .unavailable, message: reason.isEmpty ? "the watch was cancelled by the server" : reason)
    }
}
