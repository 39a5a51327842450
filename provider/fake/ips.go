package fake

import "fmt"

// ipPool hands out addresses that are unique among live servers.
//
// Private addresses are loopback addresses from 127.100.0.0 up to
// 127.199.255.255, in order: 127.100.0.1, 127.100.0.2, ...
// skipping those ending in .0 or .255. Linux routes all of 127.0.0.0/8 to
// the loopback interface, so a program under test can bind a server's
// private address (a database script listening on %internal_ip%:3306) and
// other servers reach it, while nothing ever leaves the machine. The range
// keeps clear of 127.0.0.0/16, where tests run their own servers.
//
// Public addresses come from the documentation ranges 203.0.113.0/24,
// 198.51.100.0/24 and 192.0.2.0/24 (RFC 5737), which are never routed:
// the farm never dials a public address of a fake server.
//
// Both walk forward and wrap, so an address freed by a terminated server is
// not handed out again at once.
type ipPool struct {
	used     map[string]bool
	nextPriv int
	nextPub  int
}

const (
	privateFirstOctet = 100
	privateSize       = 100 << 16
	publicSize        = 3 * 254
)

var publicRanges = [3]string{"203.0.113", "198.51.100", "192.0.2"}

func privateAt(n int) (string, bool) {
	last := n & 255
	if last == 0 || last == 255 {
		return "", false
	}
	return fmt.Sprintf("127.%d.%d.%d", privateFirstOctet+n>>16, n>>8&255, last), true
}

func publicAt(n int) string {
	return fmt.Sprintf("%s.%d", publicRanges[n/254], n%254+1)
}

// allocate returns a fresh private and public address.
func (p *ipPool) allocate() (private, public string) {
	return p.allocatePrivate(), p.allocatePublic()
}

func (p *ipPool) allocatePrivate() string {
	if p.used == nil {
		p.used = map[string]bool{}
	}
	for range privateSize {
		n := p.nextPriv % privateSize
		p.nextPriv++
		if ip, ok := privateAt(n); ok && !p.used[ip] {
			p.used[ip] = true
			return ip
		}
	}
	return ""
}

// allocatePublic returns "" when all public addresses are in use.
func (p *ipPool) allocatePublic() string {
	if p.used == nil {
		p.used = map[string]bool{}
	}
	for range publicSize {
		ip := publicAt(p.nextPub % publicSize)
		p.nextPub++
		if !p.used[ip] {
			p.used[ip] = true
			return ip
		}
	}
	return ""
}

func (p *ipPool) release(ips ...string) {
	for _, ip := range ips {
		delete(p.used, ip)
	}
}
