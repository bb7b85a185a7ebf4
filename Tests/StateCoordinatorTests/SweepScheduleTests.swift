import Testing

@_spi(FaultInjection) @testable import StateCoordinator

/// When a commit lists the store directory for orphans: on a process's first commit, after a
/// failure or a replaced directory, and otherwise at most once a second, however often other
/// writers changed the directory (writers taking turns used to list on every commit).
@Suite("Orphan sweep schedule")
struct SweepScheduleTests {
    private func directory(inode: UInt64 = 7, changed: Int64 = 0) -> FileStatus {
        var status = FileStatus(device: 1, inode: inode, mode: 0o040755, owner: 0, group: 0, size: 4096, linkCount: 2)
        status.changeTimeNanoseconds = changed
        status.modificationTimeNanoseconds = changed
        return status
    }

    @Test func listsFirstThenAtMostOnceASecond() {
        let schedule = SweepSchedule()
        let start = ContinuousClock.now
        #expect(schedule.needsListing(directory(), now: start))
        schedule.noteReleasing(directory(), listed: true, now: start)
        // Another writer's commit changed the directory's times: no listing within the second.
        let later = start.advanced(by: .milliseconds(400))
        #expect(!schedule.needsListing(directory(changed: 99), now: later))
        schedule.noteReleasing(directory(changed: 99), listed: false, now: later)
        #expect(!schedule.needsListing(directory(changed: 123), now: start.advanced(by: .milliseconds(999))))
        // A second after the last listing (not after the last commit), it lists again.
        #expect(schedule.needsListing(directory(changed: 123), now: start.advanced(by: .seconds(1))))
    }

    @Test func aReplacedDirectoryOrAFailureListsAtOnce() {
        let schedule = SweepSchedule()
        let start = ContinuousClock.now
        schedule.noteReleasing(directory(), listed: true, now: start)
        #expect(schedule.needsListing(directory(inode: 8), now: start))
        #expect(schedule.needsListing(nil, now: start))
        schedule.forget()
        #expect(schedule.needsListing(directory(), now: start))
        // Unknown status at release: the next commit lists.
        schedule.noteReleasing(directory(), listed: true, now: start)
        schedule.noteReleasing(nil, listed: false, now: start)
        #expect(schedule.needsListing(directory(), now: start))
    }
}
