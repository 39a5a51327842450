// Package novatest is an httptest server that speaks the OpenStack wire
// formats farmhand's Rackspace/OpenStack driver uses: Keystone v2.0
// (passwordCredentials and Rackspace's RAX-KSKEY:apiKeyCredentials) and v3
// (password, application credential and token methods, X-Subject-Token and a
// service catalog), Nova v2.1 (servers create, detail with limit/marker
// paging and servers_links, get, delete, reboot and os-getConsoleOutput
// actions, os-keypairs, os-availability-zone, os-volume_attachments) and
// Cinder v3 volumes and snapshots. Bodies are shaped as the OpenStack API
// reference documents them.
//
// # Checking requests
//
// The server checks every request as a strict cloud would: X-Auth-Token
// present and issued by it, the project in the URL being the token's,
// Content-Type application/json on bodies, JSON that parses into the
// documented schema with no unknown fields (Nova's schemas say
// additionalProperties: false), required fields present, base64 user data.
// A request that breaks the format fails the test (t.Errorf, through
// [Options].Violation) and gets the status Nova would answer. Semantic
// refusals a real cloud makes too (unknown image, quota) are answered
// without failing the test.
//
// # State and time
//
// Servers live in memory. Create answers 202 with the servers in BUILD;
// [Server.Settle] moves everything in a transition on: BUILD and REBOOT
// become ACTIVE (with addresses, and a host key that the console output
// prints between cloud-init's markers), deleted servers disappear, snapshots
// become available. Nothing moves by itself, so tests are deterministic.
//
// # Knobs
//
//   - [Server.Throttle]: the next N requests get 429 (or Rackspace's 413
//     overLimit) with Retry-After.
//   - [Server.SetCapacity]: a zone's capacity. A create that does not fit is
//     accepted and its servers go to ERROR with the fault "No valid host was
//     found", which is what Nova's scheduler does, after the 202.
//   - [Server.SetQuota]: the instance quota; beyond it create gets 403
//     "Quota exceeded for instances" (min_count is honoured).
//   - [Server.DropNextCreates]: apply the next creates, then close the
//     connection without an answer.
//   - [Server.DelaySchedule]: keep new servers in task_state "scheduling"
//     until the next Settle.
//   - [Server.ExpireTokens]: revoke every token, forcing re-authentication.
//   - [Options].NoAvailabilityZones: a cloud without availability zones, as
//     Rackspace's public cloud is.
//   - [Options].LoopbackIPs and [Options].HostKey: servers get 127.2.x.y
//     addresses and all print one given host key, so that one test sshd
//     (dialled through sshdtest.Server.Dial) stands in for every server and a client pinning
//     the console's key reaches it (examples/rackspace runs its scripts
//     this way).
//
// [Server.Calls] counts requests per route ("POST /servers",
// "GET /servers/detail", ...), so tests can assert how many calls an
// operation costs.
//
// # Outside tests
//
// [Start] runs the same server for a program (an example tried without an
// account); it must be closed with [Server.Close].
package novatest
