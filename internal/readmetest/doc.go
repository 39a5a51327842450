// Package readmetest holds the test that runs the README's "A farm in Go"
// program and its shop.yaml as written, from the README's text, and the
// test that runs the same shop.yaml on the EC2 and OpenStack test servers
// (internal/ec2test with provider/ec2, internal/novatest with
// provider/rackspace) with its scripts over one real sshd: logical zones
// mapped to each cloud's, an ELB the cloud lacks refused before any
// instance launches, and on OpenStack, which has no load balancer, www
// one of the program's own.
package readmetest
