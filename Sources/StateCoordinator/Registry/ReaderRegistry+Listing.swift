import Foundation
import SystemPackage

extension ReaderRegistry {
    /// What an entry's record name holds.
    enum RecordLookup {
        /// Nothing yet: the reader is registering.
        case absent
        /// A record of the entry's owner, naming the entry.
        case found(ReaderRecord)
        /// Something this code cannot read (a newer format, an I/O error): the entry is listed
        /// with the reason.
        case unusable(StateStoreError)
        /// Something that is not this entry's record (another user's file, a link, another
        /// entry's record): the entry is invalid, for the reason given.
        case foreign(String)
    }

    /// What an entry turned out to be.
    enum EntryReading {
        case reader(RegisteredReader)
        case invalid(InvalidReaderEntry)
    }

    /// Entry `id`'s record, read through `directory` and checked to be a regular file of the
    /// entry's `owner` (the owner of its lock file; nil when unknown) that names the entry.
    func record(of id: String, in directory: FileDescriptor, owner: UInt32?) -> RecordLookup {
        let name = id + Self.recordSuffix
        let recordPath = entryPath(id, Self.recordSuffix)
        let file: OwnedDescriptor
        do {
            file = OwnedDescriptor(try calls.open(directory, name, .readExisting), calls: calls)
        } catch .noSuchFileOrDirectory {
            if (try? calls.fstatat(directory, name))?.isSymbolicLink == true { return .foreign("its record is a symbolic link") }
            return .absent
        } catch .tooManySymbolicLinkLevels {
            return .foreign("its record is a symbolic link")
        } catch {
            return .unusable(.system(.listReaders, path: recordPath, errno: error, stateUnchanged: false))
        }
        let status: FileStatus
        let bytes: [UInt8]
        do {
            status = try calls.fstat(file.descriptor)
            guard status.isRegularFile else { return .foreign("its record is not a regular file") }
            if let owner, status.owner != owner {
                return .foreign("its record belongs to uid \(status.owner), its lock file to uid \(owner)")
            }
            bytes = try calls.read(file.descriptor, upTo: ReaderRecord.maximumBytes + 1)
        } catch {
            return .unusable(.system(.listReaders, path: recordPath, errno: error, stateUnchanged: false))
        }
        if bytes.count <= ReaderRecord.maximumBytes, let format = ReaderRecord.format(of: bytes), format > ReaderRecord.currentFormat {
            return .unusable(
                StateStoreError(
                    .unverifiable, "\(recordPath) is a reader record of format \(format), newer than this code reads (\(ReaderRecord.currentFormat)).",
                    hint: "Upgrade this program to the library version the reader uses.", path: recordPath))
        }
        guard bytes.count <= ReaderRecord.maximumBytes, let record = ReaderRecord.decode(bytes) else {
            return .unusable(
                StateStoreError(
                    .corrupt, "\(recordPath) is not a reader record.",
                    hint: "It was not written by a reader following the protocol; the entry is listed without its record.",
                    path: recordPath))
        }
        if let named = record.id, named != id { return .foreign("its record is another entry's (a hard link to it)") }
        // A record from before records named their entry: a second name means someone linked it.
        if record.id == nil, status.linkCount > 1 { return .foreign("its record has other names (hard links)") }
        return .found(record)
    }

    /// Entry `id` of a live (or possibly live) reader whose lock file has status `lock`: as its
    /// record describes it, a placeholder saying why it has none usable (none yet: registering;
    /// or one this code cannot read), or invalid (its record is not its owner's, or names another
    /// entry; or it has none and its lock file has other names: a lock file is created `O_EXCL`
    /// and never linked, so a second name is someone's link to another reader's). Nothing is
    /// removed: a name another user planted stays invalid, listed as such.
    func reading(_ id: String, lock: FileStatus?, in directory: FileDescriptor) -> EntryReading {
        let owner = lock?.owner
        var reader: RegisteredReader
        let lookup = record(of: id, in: directory, owner: owner)
        switch lookup {
        case .found(let record):
            reader = record.reader(id: id)
        case .foreign(let reason):
            return .invalid(InvalidReaderEntry(id: id, owner: owner, reason: reason))
        case .absent where (lock?.linkCount ?? 1) > 1:
            return .invalid(InvalidReaderEntry(id: id, owner: owner, reason: "it has no record and its lock file has other names (hard links)"))
        case .absent, .unusable:
            let pid = Int32(id.split(separator: "-").first ?? "") ?? 0
            reader = RegisteredReader(
                id: id, label: "", processID: pid, hostName: "", registeredAt: .distantPast, storeID: nil, loaded: nil,
                applied: nil, rejected: nil, updatedAt: .distantPast)
            if case .unusable(let error) = lookup { reader.problem = error.message }
        }
        reader.owner = owner
        reader.ownerName = owner.flatMap(UserAccount.name(of:))
        return .reader(reader)
    }

    /// Entry `id` of a reader of `owner` read again (the registry directory opened for the one
    /// look); nil when the entry or the registry is gone.
    func reading(_ id: String, owner: UInt32?) -> EntryReading? {
        guard let directory = try? openDirectory() else { return nil }
        // Gone: its reader died or closed (the caller's liveness check says which).
        guard let lock = try? calls.fstatat(directory.descriptor, id + Self.lockSuffix) else { return nil }
        // The lock file the caller took the reader's owner from, or an invalid entry.
        guard lock.isRegularFile, lock.owner == owner || owner == nil else {
            return .invalid(InvalidReaderEntry(id: id, owner: lock.owner, reason: "its lock file changed"))
        }
        return reading(id, lock: lock, in: directory.descriptor)
    }

    /// Every entry worth a look, up to ``ReaderListing/maximumConsidered``: all of them when there
    /// are no more; otherwise taken from each user in turn (the users of `readerUsers` first, then
    /// the users with the fewest entries), so that a flood from one user hides nobody else.
    func consideredIDs(_ ids: [String], in directory: FileDescriptor, readerUsers: Set<UInt32>?) -> [String] {
        let limit = ReaderListing.maximumConsidered
        // Ordered by owner whenever the store names its reader users (so that a listing stopped by
        // its deadline has looked at theirs first), or when there are more than the limit.
        guard ids.count > limit || readerUsers != nil else { return ids }
        var byOwner: [UInt32: [String]] = [:]
        var unknown: [String] = []
        for id in ids {
            if let owner = (try? calls.fstatat(directory, id + Self.lockSuffix))?.owner {
                byOwner[owner, default: []].append(id)
            } else {
                unknown.append(id)
            }
        }
        let allowed = { (owner: UInt32) in readerUsers?.contains(owner) ?? true }
        let ordered = byOwner.sorted { ($0.value.count, $0.key) < ($1.value.count, $1.key) }
        let tiers = [ordered.filter { allowed($0.key) }.map(\.value), ordered.filter { !allowed($0.key) }.map(\.value) + [unknown]]
        var chosen: [String] = []
        for groups in tiers {
            var index = 0
            while chosen.count < limit {
                let round = groups.compactMap { index < $0.count ? $0[index] : nil }
                if round.isEmpty { break }
                chosen.append(contentsOf: round.prefix(limit - chosen.count))
                index += 1
            }
        }
        return chosen
    }

    /// Looks at the registry: every live reader (those of users `readerUsers` does not name
    /// apart), every invalid entry, dead entries removed on the way (``removesDeadEntries``). Stops at `deadline`, saying so.
    func listing(readerUsers: Set<UInt32>?, deadline: ContinuousClock.Instant? = nil) throws(StateStoreError) -> ReaderListing {
        guard let directory = try openDirectory() else { return ReaderListing() }
        let (ids, orphans) = try entries(in: directory.descriptor)
        sweepOrphans(Array(orphans.prefix(ReaderListing.maximumConsidered)), in: directory.descriptor)
        let chosen = consideredIDs(ids, in: directory.descriptor, readerUsers: readerUsers)
        var listing = ReaderListing(entryCount: ids.count, considered: chosen.count)
        let clock = ContinuousClock()
        let lockTable = LockTable()
        for (index, id) in chosen.enumerated() {
            if let deadline, clock.now >= deadline {
                listing.stoppedEarly = true
                listing.considered = index
                break
            }
            let (liveness, lock) = liveness(of: id, in: directory.descriptor, lockTable: lockTable)
            switch liveness {
            case .dead, .gone:
                continue
            case .invalid(let reason):
                listing.invalid.append(InvalidReaderEntry(id: id, owner: lock?.owner, reason: reason))
                removeIfNotAFile(id + Self.lockSuffix, in: directory.descriptor)
            case .live, .unknown:
                switch reading(id, lock: lock, in: directory.descriptor) {
                case .invalid(let entry):
                    listing.invalid.append(entry)
                case .reader(var reader):
                    if case .unknown(let error) = liveness { reader.problem = "liveness unknown: \(error.message)" }
                    if let readerUsers, !(reader.owner.map(readerUsers.contains) ?? false) {
                        listing.notCounted.append(reader)
                    } else {
                        listing.readers.append(reader)
                    }
                }
            }
        }
        let order = { (a: RegisteredReader, b: RegisteredReader) in (a.registeredAt, a.id) < (b.registeredAt, b.id) }
        listing.readers.sort(by: order)
        listing.notCounted.sort(by: order)
        return listing
    }

    /// Every live reader that counts (see ``listing(readerUsers:deadline:)``).
    func liveReaders(readerUsers: Set<UInt32>? = nil, deadline: ContinuousClock.Instant? = nil) throws(StateStoreError) -> [RegisteredReader] {
        try listing(readerUsers: readerUsers, deadline: deadline).readers
    }

    /// Removes a name that is not a regular file (a link, a FIFO planted as a lock file), when
    /// this process may: no reader ever makes one.
    private func removeIfNotAFile(_ name: String, in directory: FileDescriptor) {
        guard removesDeadEntries, let status = try? calls.fstatat(directory, name), !status.isRegularFile, !status.isDirectory else { return }
        try? calls.unlink(directory, name, false)
    }
}
