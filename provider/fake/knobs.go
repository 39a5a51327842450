package fake

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/farmhand/farmhand/provider"
)

// Op names an API operation of the fake cloud, for the fault and latency
// knobs and the call record.
type Op string

// The operations. OpAll stands for every operation in the knobs: a fault
// set for OpAll applies to each call in addition to the call's own knobs.
const (
	OpAll             Op = "*"
	OpLaunch          Op = "Launch"
	OpList            Op = "List"
	OpGet             Op = "Get"
	OpTerminate       Op = "Terminate"
	OpReboot          Op = "Reboot"
	OpZones           Op = "Zones"
	OpHostKeys        Op = "HostKeys"
	OpConsoleOutput   Op = "ConsoleOutput"
	OpVolumes         Op = "Volumes"
	OpCreateSnapshot  Op = "CreateSnapshot"
	OpListSnapshots   Op = "ListSnapshots"
	OpDeleteSnapshot  Op = "DeleteSnapshot"
	OpRegister        Op = "Register"
	OpDeregister      Op = "Deregister"
	OpHasLoadBalancer Op = "HasLoadBalancer"
)

// Call is one recorded API call.
type Call struct {
	Op Op
	// Args summarises the arguments, such as "token=t1 count=2 zone=fake-1a".
	Args string
	// Time is the clock's time when the call arrived.
	Time time.Time
	// Err is the error the call returned, nil on success.
	Err error
}

// knob holds the fault and latency settings of one Op.
type knob struct {
	failNext     int
	failNextCode provider.Code
	loseNext     int
	loseNextCode provider.Code
	rate         float64
	rateCode     provider.Code
	rng          *rand.Rand
	latency      time.Duration
}

func (p *Provider) knobLocked(op Op) *knob {
	k, ok := p.knobs[op]
	if !ok {
		k = &knob{}
		p.knobs[op] = k
	}
	return k
}

// FailNext makes the next n calls of op fail with code before they do
// anything. n <= 0 clears it.
func (p *Provider) FailNext(op Op, n int, code provider.Code) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.knobLocked(op)
	k.failNext, k.failNextCode = max(n, 0), code
}

// LoseNext makes the next n successful calls of op take effect and then
// fail with code, as when the cloud acted but its answer was lost on the
// way. It is how a test checks that a caller's retry does not act twice.
// n <= 0 clears it.
func (p *Provider) LoseNext(op Op, n int, code provider.Code) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.knobLocked(op)
	k.loseNext, k.loseNextCode = max(n, 0), code
}

// FailRate makes each call of op fail with code, before doing anything, with
// the given probability (0 turns it off, 1 fails every call). The draws come
// from a random sequence per op seeded from Options.Seed, so a test that
// makes the same calls in the same order sees the same failures every run.
func (p *Provider) FailRate(op Op, fraction float64, code provider.Code) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.knobLocked(op)
	k.rate, k.rateCode = fraction, code
	if k.rng == nil {
		h := fnv.New64a()
		h.Write([]byte(op))
		k.rng = rand.New(rand.NewPCG(uint64(p.seed), h.Sum64()))
	}
}

// SetLatency makes each call of op wait d on the cloud's clock before it is
// served (with a fake clock, until the test advances it). A cancelled
// context ends the wait. 0 turns it off.
func (p *Provider) SetLatency(op Op, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.knobLocked(op).latency = max(d, 0)
}

// Calls returns the recorded calls in arrival order.
func (p *Provider) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Call, len(p.calls))
	for i, c := range p.calls {
		out[i] = *c
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (p *Provider) ResetCalls() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = nil
}

// begin records a call, waits its latency and injects the faults set for it.
// The returned *Call is completed by finish.
func (p *Provider) begin(ctx context.Context, op Op, args string) (*Call, error) {
	p.mu.Lock()
	c := &Call{Op: op, Args: args, Time: p.clock.Now()}
	p.calls = append(p.calls, c)
	var latency time.Duration
	for _, o := range []Op{op, OpAll} {
		if k, ok := p.knobs[o]; ok {
			latency += k.latency
		}
	}
	p.mu.Unlock()

	if err := ctx.Err(); err != nil {
		return p.failCall(c, provider.NewError(provider.Unknown, "fake."+string(op), err))
	}
	if latency > 0 {
		t := p.clock.NewTimer(latency)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return p.failCall(c, provider.NewError(provider.Unknown, "fake."+string(op), ctx.Err()))
		}
	}

	p.mu.Lock()
	var injected error
	for _, o := range []Op{op, OpAll} {
		k, ok := p.knobs[o]
		if !ok || injected != nil {
			continue
		}
		switch {
		case k.failNext > 0:
			k.failNext--
			injected = provider.Errorf(k.failNextCode, "fake."+string(op), "injected fault (FailNext)")
		case k.rate > 0 && k.rng.Float64() < k.rate:
			injected = provider.Errorf(k.rateCode, "fake."+string(op), "injected fault (FailRate)")
		}
	}
	p.mu.Unlock()
	if injected != nil {
		p.log.Debug("fake: injected fault", "op", op, "err", injected)
		return p.failCall(c, injected)
	}
	return c, nil
}

func (p *Provider) failCall(c *Call, err error) (*Call, error) {
	p.mu.Lock()
	c.Err = err
	p.mu.Unlock()
	return nil, err
}

// finish completes a call begun with begin: it applies LoseNext to a
// success and records the outcome.
func finish[T any](p *Provider, c *Call, v T, err error) (T, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		for _, o := range []Op{c.Op, OpAll} {
			if k, ok := p.knobs[o]; ok && k.loseNext > 0 {
				k.loseNext--
				err = provider.Errorf(k.loseNextCode, "fake."+string(c.Op), "injected fault after the call took effect (LoseNext)")
				break
			}
		}
	}
	c.Err = err
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}
