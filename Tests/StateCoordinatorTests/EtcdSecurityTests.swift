import Foundation
import Testing

@testable import StateCoordinator

/// A store on a cluster that speaks TLS, requires client certificates and has etcd's
/// authentication on: a writer role may commit, a read-only role may read and not commit, and
/// a client without a certificate or with a wrong password gets a clear error.
@Suite("A store on etcd with TLS and roles", .serialized, .timeLimit(.minutes(3)))
struct EtcdSecurityTests {
    @Test func onlyTheWriterRoleCommitsAndEveryRefusalSaysWhy() throws {
        let cluster = try EtcdCluster(tls: true)
        let certificates = try #require(cluster.certificates)
        let prefix = "/statecoord/v1/state/"
        for command in [
            ["user", "add", "root:rootpw", "--interactive=false"], ["auth", "enable"],
            ["--user", "root:rootpw", "role", "add", "writer"],
            ["--user", "root:rootpw", "role", "grant-permission", "writer", "--prefix=true", "readwrite", prefix],
            ["--user", "root:rootpw", "role", "add", "reader"],
            ["--user", "root:rootpw", "role", "grant-permission", "reader", "--prefix=true", "read", prefix],
            ["--user", "root:rootpw", "user", "add", "alice:alicepw", "--interactive=false"],
            ["--user", "root:rootpw", "user", "grant-role", "alice", "writer"],
            ["--user", "root:rootpw", "user", "add", "bob:bobpw", "--interactive=false"],
            ["--user", "root:rootpw", "user", "grant-role", "bob", "reader"],
        ] {
            let result = cluster.etcdctl(command)
            try #require(result.status == 0, "etcdctl \(command): \(result.stderr)")
        }
        let statectl = CLI(directory: cluster.directory.path)
        let tls = ["--etcd", cluster.endpoints, "--etcd-timeout", "3", "--cacert", certificates.ca, "--cert", certificates.client, "--key", certificates.clientKey]
        // The writer role commits.
        #expect(try statectl.run(tls + ["--user", "alice:alicepw", "init"]).status == 0)
        #expect(try statectl.run(tls + ["--user", "alice:alicepw", "set", "/halt", "true"]).status == 0)
        // The read-only role reads, and cannot commit: a clear error, nothing committed.
        let read = try statectl.run(tls + ["--user", "bob:bobpw", "get", "/halt"])
        #expect(read.status == 0 && read.stdout == "true\n", "\(read)")
        let refused = try statectl.run(tls + ["--user", "bob:bobpw", "set", "/halt", "false"])
        #expect(refused.status == 1 && refused.stderr.contains("permission denied") && refused.stderr.contains("bob"), "\(refused)")
        #expect(refused.stderr.contains("grant-permission") && refused.oneDiagnosticLine, "\(refused)")
        // The password comes from the environment too.
        let fromEnvironment = try statectl.run(
            tls + ["--user", "bob", "get", "/halt"], environment: ["STATECTL_ETCD_PASSWORD": "bobpw"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment)")
        // A wrong password, no user at all, no client certificate, no CA: each refused, and says why.
        let wrongPassword = try statectl.run(tls + ["--user", "alice:nope", "set", "/halt", "false"])
        #expect(wrongPassword.status == 1 && wrongPassword.stderr.contains("user name or password"), "\(wrongPassword)")
        let noUser = try statectl.run(tls + ["set", "/halt", "false"])
        #expect(noUser.status != 0 && noUser.oneDiagnosticLine, "\(noUser)")
        let noCertificate = try statectl.run(["--etcd", cluster.endpoints, "--etcd-timeout", "3", "--cacert", certificates.ca, "--user", "alice:alicepw", "set", "/halt", "false"])
        #expect(noCertificate.status == 12 && noCertificate.stderr.contains(cluster.members[0].clientURL), "\(noCertificate)")
        let noCA = try statectl.run(["--etcd", cluster.endpoints, "--etcd-timeout", "3", "--cert", certificates.client, "--key", certificates.clientKey, "--user", "alice:alicepw", "get"])
        #expect(noCA.status == 12, "\(noCA)")
        // Nothing of the refused commits landed.
        let meta = try statectl.run(tls + ["--user", "alice:alicepw", "get", "--meta"])
        #expect(meta.stdout.contains("\"version\" : 1"), "\(meta)")
        #expect(try statectl.run(tls + ["--user", "alice:alicepw", "get", "/halt"]).stdout == "true\n")
    }
}
