package fake

import (
	"fmt"

	"github.com/farmhand/farmhand/provider"
)

// The methods in this file are the test's hand on the cloud: they change
// servers behind the caller's back, as a real cloud sometimes does. They are
// not API calls: they are not recorded and no fault knob applies to them.
// They return an error with code NotFound for a server the cloud no longer
// reports, and InvalidArgument for one that is already gone.

// SetZoneCapacity caps how many live (not terminated) servers zone may hold;
// n < 0 removes the cap. A launch that does not fit fails with
// InsufficientCapacity, or launches what fits when that is at least the
// spec's MinCount.
func (p *Provider) SetZoneCapacity(zone string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n < 0 {
		delete(p.capacity, zone)
		return
	}
	p.capacity[zone] = n
}

// Crash makes the cloud lose a server: it becomes terminated at once, as if
// the host under it died, and its SSH endpoint stops.
func (p *Provider) Crash(id string) error {
	p.mu.Lock()
	srv, err := p.liveLocked("fake.Crash", id)
	if err == nil {
		p.terminateLocked(srv)
	}
	p.mu.Unlock()
	if err == nil {
		p.stopSSH(id)
		p.log.Debug("fake: crashed", "server", id)
	}
	return err
}

// Stop powers a server off (state stopped). Its SSH endpoint drops its
// connections and refuses new ones until [Provider.Start].
func (p *Provider) Stop(id string) error {
	return p.setState("fake.Stop", id, provider.StateStopped)
}

// Fail marks a server failed, as Nova's ERROR state. Its SSH endpoint drops
// its connections and refuses new ones.
func (p *Provider) Fail(id string) error {
	return p.setState("fake.Fail", id, provider.StateFailed)
}

func (p *Provider) setState(op, id string, st provider.State) error {
	p.mu.Lock()
	srv, err := p.liveLocked(op, id)
	if err == nil {
		srv.state = st
	}
	p.mu.Unlock()
	if err == nil && p.ssh != nil {
		p.ssh.dropConnections(id)
	}
	return err
}

// Start powers a stopped or failed server on again: it is pending for
// BootTime and gets a new public IP, as an EC2 stop/start does.
func (p *Provider) Start(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	srv, err := p.liveLocked("fake.Start", id)
	if err != nil {
		return err
	}
	if srv.state != provider.StateStopped && srv.state != provider.StateFailed {
		return provider.Errorf(provider.InvalidArgument, "fake.Start", "server %s is %s, not stopped or failed", id, p.stateLocked(srv))
	}
	now := p.clock.Now()
	srv.state, srv.startedAt, srv.bootedAt, srv.hung = "", now, now, false
	p.ips.release(srv.s.PublicIP)
	srv.s.PublicIP = p.ips.allocatePublic()
	return nil
}

// ChangeIP gives a server new private and public IPs, as after a stop and
// start, and returns them.
func (p *Provider) ChangeIP(id string) (private, public string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	srv, err := p.liveLocked("fake.ChangeIP", id)
	if err != nil {
		return "", "", err
	}
	oldPriv, oldPub := srv.s.PrivateIP, srv.s.PublicIP
	srv.s.PrivateIP, srv.s.PublicIP = p.ips.allocate()
	p.ips.release(oldPriv, oldPub)
	return srv.s.PrivateIP, srv.s.PublicIP, nil
}

// Hang makes a server dead while the cloud still reports it running: its
// SSH endpoint drops its connections, and accepts new ones but never
// answers, so a client without a handshake deadline waits forever. A Reboot
// or Start cures it.
func (p *Provider) Hang(id string) error {
	p.mu.Lock()
	srv, err := p.liveLocked("fake.Hang", id)
	if err == nil {
		srv.hung = true
	}
	p.mu.Unlock()
	if err == nil && p.ssh != nil {
		p.ssh.dropConnections(id)
	}
	return err
}

// SetLoad sets the load averages a server reports. With SSH endpoints on,
// they are also written to "proc/loadavg" in the server's sandbox, in the
// format of Linux's /proc/loadavg.
func (p *Provider) SetLoad(id string, load1, load5, load15 float64) error {
	p.mu.Lock()
	srv, err := p.liveLocked("fake.SetLoad", id)
	if err == nil {
		srv.load = [3]float64{load1, load5, load15}
	}
	p.mu.Unlock()
	if err == nil && p.ssh != nil {
		line := fmt.Sprintf("%.2f %.2f %.2f 1/100 1\n", load1, load5, load15)
		if werr := p.ssh.writeSandboxFile(id, "proc/loadavg", line); werr != nil {
			return provider.Errorf(provider.Unknown, "fake.SetLoad", "write loadavg of %s: %v", id, werr)
		}
	}
	return err
}

// Load returns the load averages set with SetLoad (zeros by default).
func (p *Provider) Load(id string) (l1, l5, l15 float64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	srv, err := p.lookupLocked("fake.Load", id)
	if err != nil {
		return 0, 0, 0, err
	}
	return srv.load[0], srv.load[1], srv.load[2], nil
}

// liveLocked finds a server that is not gone.
func (p *Provider) liveLocked(op, id string) (*server, error) {
	srv, err := p.lookupLocked(op, id)
	if err != nil {
		return nil, err
	}
	if p.stateLocked(srv).Gone() {
		return nil, provider.Errorf(provider.InvalidArgument, op, "server %s is terminated", id)
	}
	return srv, nil
}
