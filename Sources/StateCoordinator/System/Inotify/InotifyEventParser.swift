/// Parses what a `read(2)` of an inotify descriptor gives: a run of `struct inotify_event`
/// (`wd`, `mask`, `cookie`, `len`, then `len` bytes of NUL-padded name).
enum InotifyEventParser {
    /// The read buffer: many events per read, and larger than any one event (a name is at most
    /// `NAME_MAX` bytes).
    static let bufferSize = 64 << 10

    /// The size of the fixed part of an event.
    static let headerSize = 16

    /// The events in `bytes`; a truncated last event (never given by the kernel) is dropped.
    static func events(in bytes: ArraySlice<UInt8>) -> [InotifyEvent] {
        bytes.withUnsafeBytes { events(in: $0) }
    }

    /// The events in `raw`; a truncated last event is dropped.
    static func events(in raw: UnsafeRawBufferPointer) -> [InotifyEvent] {
        var events: [InotifyEvent] = []
        var offset = 0
        while offset + headerSize <= raw.count {
            let watch = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            let nameStart = offset + headerSize
            guard nameStart + length <= raw.count else { break }
            let nameBytes = raw[nameStart..<(nameStart + length)].prefix { $0 != 0 }
            events.append(InotifyEvent(watch: watch, mask: mask, name: String(decoding: nameBytes, as: UTF8.self)))
            offset = nameStart + length
        }
        return events
    }
}
