// Package testproc runs the real servers that tests lean on (OpenSSH sshd,
// BIND named) as child processes. Package sshdtest and package bindtest
// launch their server through it; what they share lives here once.
//
// # A server for a test
//
// A launcher writes its server's configuration for a free port, has the
// server's own checker read it ([Check]: "sshd -t", "named-checkconf"), and
// starts it with [Start], which waits until the server answers. Should
// another process take the port in between, [OnFreePort] tries the next one.
// [Process.Stop] ends the server with SIGTERM, and kills it after a grace
// period.
//
// # Missing binaries
//
// [Require] skips a test when the server's binary is not installed, with a
// message that names the Debian package to install, and fails it instead
// when the environment variable CI is "true": in CI every test must run.
// [ForTest] is the rest of a launcher's Start(tb): a temporary directory, a
// fatal launch error, and Close in tb.Cleanup.
package testproc
