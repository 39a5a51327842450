// Package dnsupdate keeps DNS names pointing at a farm's servers: it sets
// and deletes A, AAAA and CNAME record sets through an [Updater], and checks
// at the authoritative servers that a change is served ([Verify]).
//
// When a server is replaced its address changes; clients that find the
// database master or the NFS server by name follow only if the name moves.
// Package farm calls an Updater on HostUp, HostDown, IPAddressChanged and
// NewDBMaster; this package knows nothing of farms and can be used alone.
//
// # Record sets
//
// A [RecordSet] is every record of one name and type: "db.example.com. A
// 10.0.0.5", or "int-app64.example.com. A" with one address per running app
// server. Updaters replace whole sets — there is no "add one address" —
// so the caller always says what the name must resolve to, and repeating a
// call is harmless. Names are fully qualified (the trailing dot is
// optional); values are checked before anything is sent: IPv4 addresses for
// A, IPv6 for AAAA, one target name for CNAME. [RecordSet.Normalize] returns
// the canonical form (lower case, trailing dot, sorted values) and an
// ErrInvalid error naming the field and value otherwise.
//
// Implementations: [RFC2136] (BIND, Knot, PowerDNS and any server that
// takes signed dynamic updates), [DNSMadeEasy] and [DynDNS2] (HTTP dynamic
// DNS), and [Memory] for tests and the quick start. Amazon Route 53's
// updater is in package dnsupdate/route53, so that a program that does not
// use it does not link the AWS SDK.
//
// # RFC 2136 and TSIG
//
// [RFC2136] sends DNS UPDATE messages over TCP to the zone's primary,
// signed with a TSIG key ([TSIGKey]: hmac-sha256 by default; hmac-sha512,
// -sha384, -sha224, -sha1 and hmac-md5 also work; [ParseBINDKey] reads
// tsig-keygen's output). Set sends one message that deletes the set and
// inserts the new records, which the server applies atomically. Every
// attempt builds and signs a fresh message (a new ID and signing time):
// signing a message twice makes BIND answer FORMERR.
//
// Answers are classified: NOTAUTH with TSIG error BADTIME is [ErrClockSkew]
// (the clocks differ by more than the fudge, 300 s); BADSIG, BADKEY,
// REFUSED, NOTZONE and NOTIMP are [ErrConfig] and are not retried;
// SERVFAIL and timeouts are retried with a doubling back-off, then reported
// as [ErrUnavailable]. The answer's code is read even when miekg/dns also
// returns an error, as it does when the server's error answer carries no
// valid signature.
//
// The zone is configured ([RFC2136Options].Zone, and names outside it are
// refused before sending) or found with an SOA query and remembered.
//
// A BIND zone that accepts these updates:
//
//	key "farm-key" { algorithm hmac-sha256; secret "..."; };
//	zone "example.com" {
//		type primary; file "example.com.db";
//		update-policy { grant farm-key zonesub ANY; };
//	};
//
// # Route 53
//
// Package dnsupdate/route53 (route53.New) calls ChangeResourceRecordSets
// with an UPSERT and then polls GetChange until the change is INSYNC.
// Throttling, PriorRequestNotComplete and server errors are retried on the
// updater's clock; the SDK's own retryer is turned off. Route 53 deletes a
// set only when given its exact TTL and values, so Delete reads the set
// first with ListResourceRecordSets. Alias and routing-policy sets are not
// managed.
//
// # HTTP dynamic DNS
//
// [DNSMadeEasy] (GET .../updateip?username=&password=&id=RECORDID&ip=) and
// [DynDNS2] (GET /nic/update?hostname=&myip= with basic authentication) set
// one IPv4 address per name; they cannot delete, compare-and-swap, or set
// the TTL. These services block clients that repeat themselves, so the
// updaters do not resend an address they have set, stop calling after a
// final answer (bad credentials, unknown host, abuse: [ErrConfig]) until a
// new updater is made, and after dyndns2's "911" or "dnserr" stay quiet for
// 30 minutes ([ErrUnavailable]). Passwords are scrubbed from every error:
// net/http quotes whole URLs, query strings included. Each request is
// bounded by the options' Timeout (default [DefaultHTTPTimeout]), whatever
// the HTTP client, so that a service that accepts and never answers fails
// the attempt instead of holding the farm.
//
// # Compare-and-swap
//
// Two controllers (an old one that lost its lease and the new one) must not
// move a name back and forth. [Swapper.SetIf] changes a set only if it
// still holds the values the caller last saw, and otherwise changes nothing
// and returns [ErrPrecondition]:
//
//	err := u.(dnsupdate.Swapper).SetIf(ctx, newMaster, []string{oldMasterIP})
//
// [RFC2136] sends the old values as an update prerequisite ("RRset exists,
// value dependent"), which the server checks and applies atomically with the
// change; an empty prev becomes "RRset does not exist". Route 53's updater
// reads the set and sends one batch that DELETEs exactly what it read and CREATEs the
// new set; Route 53 rejects the whole batch when the DELETE no longer
// matches. [Memory] compares under its lock. The HTTP updaters have no
// compare-and-swap. When an attempt timed out and the retry is refused, the
// updaters read the set: if it already holds the new values, the first
// attempt was applied and its answer lost, and SetIf succeeds.
//
// A CNAME cannot share its name with other data; Set refuses to create one
// next to an A or AAAA set (and the reverse) with ErrPrecondition, rather
// than let the server silently ignore the records.
//
// # Verification
//
// An accepted update is not yet a served one: secondaries catch up by
// NOTIFY and zone transfer, Route 53 by INSYNC. [Verify] asks each
// authoritative server directly, over TCP and without recursion, until all
// of them serve the wanted values — and, given MinSerial, have reached the
// zone serial the update produced ([ReadSOA] reads the serial before the
// update). At the deadline (the context's, or [DefaultVerifyTimeout]) it
// returns a [*LagError] that names each lagging server and what it serves:
//
//	dnsupdate: verify db.example.com. A: want [10.0.0.6] at serial >= 42;
//	lagging: 10.0.0.3:53 serves [10.0.0.5] at serial 41 (context deadline exceeded)
//
// # TTLs and negative caching
//
// Resolvers keep an answer for its TTL, so a failover is only as fast as
// the TTL of the name that moves: use 30 to 60 seconds for names that fail
// over (database master, NFS server; [DefaultTTL] is 60 s) and longer TTLs
// for names that do not. A name that did not exist when a resolver asked is
// cached as absent for min(the SOA record's TTL, the SOA MINIMUM field)
// (RFC 2308), so keep the zone's SOA minimum low too (a few seconds to a
// minute) or the first lookup of a new name can pin NXDOMAIN for hours.
// [SOA] reports both fields.
//
// # Errors
//
// Every error carries one kind, for errors.Is: [ErrInvalid], [ErrConfig],
// [ErrClockSkew], [ErrPrecondition], [ErrUnavailable] (only this one is
// worth retrying later: [Retryable]), and [ErrLagging] from Verify. Errors
// are [*Error] values naming the operation, record set and server; they
// never hold a TSIG secret, password or AWS key, and neither do the logs
// (the optional *slog.Logger of every updater).
//
// # Testing
//
// [Memory] is a complete Updater and Swapper with a history, a change
// channel and injected failures. The package's own tests run a real BIND 9
// (internal/bindtest starts named on a loopback port with TSIG keys), an
// in-process miekg/dns server for scripted answers, and httptest servers
// that speak Route 53's REST-XML and the dynamic DNS services' formats.
package dnsupdate
