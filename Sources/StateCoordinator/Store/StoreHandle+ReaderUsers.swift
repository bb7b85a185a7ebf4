extension StoreHandle {
    /// The current version's ``StoreSettings/readerUsers``, from its header alone (the state is
    /// not read): nil when it names none, or when there is no readable current version (then
    /// every user's readers are listed as counting, as in a store without the setting).
    func currentReaderUsers() -> Set<UInt32>? {
        guard let fd = try? calls.open(SystemCalls.currentDirectory, stateFilePath, .readExisting) else { return nil }
        let file = OwnedDescriptor(fd, calls: calls)
        guard (try? calls.fstat(file.descriptor))?.isRegularFile == true else { return nil }
        return HeaderPeek.header(of: file.descriptor, calls: calls)?.settings.readerUsers.map(Set.init)
    }
}
