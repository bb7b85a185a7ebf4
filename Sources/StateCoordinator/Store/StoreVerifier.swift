import SystemPackage

/// The checks behind ``ReadableStateStore/verify()`` and ``ReadableStateStore/orphanTempFiles()``.
///
/// Made to hold while writers commit at full speed, and never takes the writer lock: a temp file
/// counts as left over only if it is there on both sides of an instant at which the kernel's lock
/// table shows the writer lock free (``orphans()``); the history is
/// judged against the current version read *after* it was listed, since each entry is linked
/// while its version is current, just before the next is renamed in, and pruned just after.
struct StoreVerifier {
    let handle: StoreHandle

    /// Verifies a store that may not open (no lockfile, plain JSON): only a missing state file
    /// or directory is thrown, everything else is in the report.
    static func run(directory: String, name: String, options: StateStoreOptions) throws(StateStoreError) -> VerificationReport {
        let handle = StoreHandle(directory: directory, files: try StoreFiles(name: name), options: options, forWriting: false)
        let dir = try handle.openDirectory()
        do { _ = try handle.calls.fstatat(dir.descriptor, handle.files.stateFile) } catch .noSuchFileOrDirectory {
            throw StoreOpening(handle).noStore
        } catch {
            throw .system(.readState, path: handle.stateFilePath, errno: error)
        }
        return StoreVerifier(handle: handle).run()
    }

    func run() -> VerificationReport {
        var report = VerificationReport()
        let current = checkState(&report)
        if let current { checkSchema(current, &report) }
        checkLockFile(&report)
        do {
            for name in try orphans() {
                let path = "\(handle.directory)/\(name)"
                report.problems.append(
                    VerificationProblem(
                        .orphanTempFile, path: path,
                        description: "\(TerminalText.safe(path)) is a temp file left by a writer that died mid-commit; writers remove it by themselves (a process's first commit, else within a second of a commit)."))
            }
        } catch {
            report.problems.append(VerificationProblem(.unreadable, path: error.path ?? handle.directory, description: error.description, error: error))
        }
        checkHistory(current: current, &report)
        return report
    }

    private func checkState(_ report: inout VerificationReport) -> VerifiedStateFile? {
        do {
            let file = try handle.readCurrent()
            report.currentVersion = file.header.version
            do { try JSONParser.check(file.stateBytes) } catch {
                let damage = StateEncoding.notJSON(path: handle.stateFilePath, version: file.header.version, error)
                report.problems.append(VerificationProblem(.stateNotJSON, path: handle.stateFilePath, description: damage.description, error: damage))
                return nil
            }
            return file
        } catch {
            if let plain = (try? handle.openDirectory()).flatMap({ StoreOpening(handle).plainJSONError($0) }) {
                report.problems.append(
                    VerificationProblem(.stateFileIsPlainJSON, path: handle.stateFilePath, description: plain.description, error: plain))
            } else {
                report.problems.append(
                    VerificationProblem(.stateFileUnreadable, path: handle.stateFilePath, description: error.description, error: error))
            }
            return nil
        }
    }

    /// The current state against the schema its header names: a writer that does not check
    /// (an old or foreign one) may have committed a state the store's readers cannot use.
    private func checkSchema(_ current: VerifiedStateFile, _ report: inout VerificationReport) {
        guard let checksum = current.header.settings.schema else { return }
        do {
            let schema = try SchemaFile(handle: handle).load(checksum)
            let state = try JSONValue(parsing: current.stateBytes)
            if let violation = schema.firstViolation(of: state) {
                var error = StateStoreError(
                    .schemaViolation,
                    "Version \(current.header.version) breaks the store's schema: \(violation.description). A writer that does not check the schema committed it.",
                    hint: "Typed readers reject it and keep their last good version; commit a fixed state (statectl put) or roll back.",
                    path: handle.stateFilePath)
                error.schemaViolation = violation
                error.version = current.header.version
                report.problems.append(VerificationProblem(.schemaViolation, path: handle.stateFilePath, description: error.description, error: error))
            }
        } catch let error as StateStoreError {
            report.problems.append(VerificationProblem(.schemaViolation, path: error.path ?? handle.stateFilePath, description: error.description, error: error))
        } catch {
            let wrapped = StateStoreError(.badState, "\(handle.stateFilePath) is not JSON the schema can check: \(error).", cause: error)
            report.problems.append(VerificationProblem(.schemaViolation, path: handle.stateFilePath, description: wrapped.description, error: wrapped))
        }
    }

    private func checkLockFile(_ report: inout VerificationReport) {
        let path = handle.path(handle.files.lockFile)
        do {
            let status = try handle.calls.fstatat(SystemCalls.currentDirectory, path)
            if status.isSymbolicLink {
                report.problems.append(
                    VerificationProblem(.lockFileNotRegular, path: path, description: "\(path) is a symbolic link; it must be a regular file."))
            } else if !status.isRegularFile {
                report.problems.append(
                    VerificationProblem(.lockFileNotRegular, path: path, description: "\(path) is not a regular file; writers refuse it."))
            } else if let exposure = LockFileExposure.problem(
                lock: status, state: try? handle.calls.fstatat(SystemCalls.currentDirectory, handle.stateFilePath),
                directory: try? handle.calls.fstatat(SystemCalls.currentDirectory, handle.directory), path: path)
            {
                report.problems.append(VerificationProblem(.lockFileOpenToReaders, path: path, description: exposure))
            }
        } catch .noSuchFileOrDirectory {
            report.problems.append(
                VerificationProblem(
                    .lockFileMissing, path: path,
                    description:
                        "\(path) does not exist, so writers cannot serialize; if no writer is running, create it empty, owned by the state file's owner, for the writers alone (install -m 600 /dev/null \(path.shellQuoted); 660 for a writers' group)."
                ))
        } catch {
            let error = StateStoreError.system(.openLockfile, path: path, errno: error)
            report.problems.append(VerificationProblem(.unreadable, path: path, description: error.description, error: error))
        }
    }

    /// A temp file younger than this may be a commit in flight: a commit holds its temp file for
    /// milliseconds (a stopped writer apart).
    static var minimumOrphanAge: Duration { .seconds(10) }

    /// Temp files left by writers that died: present on both sides of a moment at which the
    /// kernel's lock table shows nobody holding the writer lock (writers make temp files only
    /// under it), and older than ``minimumOrphanAge`` (the table leaves out holders in other PID
    /// namespaces, and names btrfs files by another device: the age keeps a commit in flight there
    /// from being called an orphan). None when the table shows a holder.
    ///
    /// Lock-free, so that a verifier (the sidecar's every scrape) never delays a writer.
    func orphans() throws(StateStoreError) -> [String] {
        let dir = try handle.openDirectory()
        let sweeper = dir.orphanSweeper
        let before = statuses(try sweeper.orphans(), in: dir.descriptor)
        guard !before.isEmpty else { return [] }
        // No lockfile: no writer can be committing.
        if let lock = try? handle.calls.fstatat(dir.descriptor, handle.files.lockFile) {
            guard LockHolder.holders(device: lock.device, inode: lock.inode)?.isEmpty == true else { return [] }
        }
        let after = statuses(try sweeper.orphans(), in: dir.descriptor)
        let oldest = WallClock.nanoseconds - Self.minimumOrphanAge.saturatingNanoseconds
        return before.filter { name, status in
            after[name]?.identity == status.identity && status.modificationTimeNanoseconds <= oldest
        }.keys.sorted()
    }

    /// The status of each named file that is still there.
    private func statuses(_ names: [String], in directory: FileDescriptor) -> [String: FileStatus] {
        var found: [String: FileStatus] = [:]
        for name in names {
            if let status = try? handle.calls.fstatat(directory, name) { found[name] = status }
        }
        return found
    }

    private func checkHistory(current: VerifiedStateFile?, _ report: inout VerificationReport) {
        let dir: StoreDirectory
        let versions: [UInt64]
        let history: HistoryDirectory
        do {
            dir = try handle.openDirectory()
            history = dir.history
            versions = try history.versions()
        } catch {
            return report.problems.append(
                VerificationProblem(.unreadable, path: error.path ?? handle.directory, description: error.description, error: error))
        }
        guard !versions.isEmpty else { return }
        // Read after the listing: every entry listed is at most this version.
        let latest = (try? handle.readCurrent()) ?? current
        if let latest {
            let keep = latest.header.settings.keepHistory
            // By age, any number up to the cap is kept.
            if versions.count > (latest.header.settings.keepHistoryFor == nil ? keep : StoreSettings.largestKeepHistory) {
                report.problems.append(
                    VerificationProblem(.historyOverLimit, path: history.path, description:
                    "\(history.path) keeps \(versions.count) versions, more than the store's keepHistory of \(keep); the next commit prunes the oldest."))
            }
        }
        for version in versions {
            let kept: VerifiedStateFile
            do { kept = try history.read(version: version) } catch where error.code == .notFound {
                continue  // pruned by a commit since the listing
            } catch {
                let name = "\(history.path)/\(StoreFiles.historyFile(version: version))"
                report.problems.append(VerificationProblem(.historyEntryDamaged, path: name, description: error.description, error: error))
                continue
            }
            let name = "\(history.path)/\(StoreFiles.historyFile(version: version))"
            if kept.header.version != version {
                report.problems.append(
                    VerificationProblem(.historyEntryDamaged, path: name, description: "\(name) holds version \(kept.header.version)."))
                continue
            }
            guard let latest, kept.header.store == latest.header.store else {
                if let latest {
                    report.problems.append(
                        VerificationProblem(
                            .historyOfEarlierIdentity, path: name,
                            description: "\(name) belongs to an earlier identity of the store (\(kept.header.store)), not \(latest.header.store)."))
                }
                continue
            }
            if version > latest.header.version {
                report.problems.append(
                    VerificationProblem(
                        .historyAheadOfState, path: name, description: "\(name) is newer than the current version \(latest.header.version)."))
            } else if version == latest.header.version {
                if kept.header.checksum != latest.header.checksum {
                    report.problems.append(
                        VerificationProblem(
                            .historyAheadOfState, path: name,
                            description: "\(name) is version \(version) but differs from the current version \(version)."))
                } else {
                    report.problems.append(
                        VerificationProblem(.currentVersionInHistory, path: name, description:
                        "\(name) is the current version, linked by a commit that is in flight or died before its rename; the next commit replaces it."))
                }
            }
        }
    }
}
