package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"

	"github.com/farmhand/farmhand/clock"
)

// Defaults of [Route53Options].
const (
	DefaultRoute53Poll     = 2 * time.Second
	DefaultRoute53SyncWait = 3 * time.Minute
	DefaultRoute53Backoff  = 500 * time.Millisecond
)

// Route53Options configure a [Route53] updater. HostedZoneID is required.
type Route53Options struct {
	// HostedZoneID is the hosted zone's ID ("Z0123456789ABC"; a
	// "/hostedzone/" prefix is accepted).
	HostedZoneID string
	// SyncPoll is the wait before each GetChange while waiting for a
	// change to reach every Route 53 server (INSYNC); default
	// DefaultRoute53Poll.
	SyncPoll time.Duration
	// SyncWait bounds that wait; default DefaultRoute53SyncWait. Negative
	// disables waiting: calls return once Route 53 accepted the change.
	SyncWait time.Duration
	// Attempts is the most attempts per API call for Throttling,
	// PriorRequestNotComplete, server errors and network errors; default
	// DefaultAttempts. Backoff is the first wait, doubling; default
	// DefaultRoute53Backoff.
	Attempts int
	Backoff  time.Duration
	// Comment is sent with every change batch.
	Comment string
	// Clock times polls and back-off; nil means the real clock.
	Clock  clock.Clock
	Logger *slog.Logger
}

// Route53 updates an Amazon Route 53 hosted zone through
// ChangeResourceRecordSets. It handles simple record sets only (no alias,
// weighted, latency, failover or geolocation sets; such a set is refused
// with ErrConfig). It is safe for concurrent use.
type Route53 struct {
	client   *route53.Client
	zoneID   string
	poll     time.Duration
	syncWait time.Duration
	comment  string
	clock    clock.Clock
	logger   *slog.Logger
	retrier  retrier
	endpoint string
}

// NewRoute53 returns an updater using cfg (region, credentials, HTTP client,
// BaseEndpoint). Route 53 is a global service: an empty cfg.Region is taken
// as us-east-1. The SDK's own retries are turned off; the updater retries
// with its clock instead.
func NewRoute53(cfg aws.Config, opts Route53Options) (*Route53, error) {
	zone := strings.TrimPrefix(strings.TrimSpace(opts.HostedZoneID), "/hostedzone/")
	if zone == "" || strings.ContainsAny(zone, "/?#& ") {
		return nil, fmt.Errorf("dnsupdate: route53: hosted zone id %q: want an ID such as Z0123456789ABC", opts.HostedZoneID)
	}
	r := &Route53{
		zoneID:   zone,
		poll:     opts.SyncPoll,
		syncWait: opts.SyncWait,
		comment:  opts.Comment,
		clock:    clock.Or(opts.Clock),
		logger:   orDiscard(opts.Logger),
		endpoint: "route53",
	}
	if r.poll <= 0 {
		r.poll = DefaultRoute53Poll
	}
	if r.syncWait == 0 {
		r.syncWait = DefaultRoute53SyncWait
	}
	backoff := opts.Backoff
	if backoff <= 0 {
		backoff = DefaultRoute53Backoff
	}
	if cfg.BaseEndpoint != nil {
		r.endpoint = *cfg.BaseEndpoint
	}
	r.retrier = newRetrier(opts.Attempts, backoff, r.clock, r.logger)
	r.client = route53.NewFromConfig(cfg, func(o *route53.Options) {
		o.Retryer = aws.NopRetryer{}
		if o.Region == "" {
			o.Region = "us-east-1"
		}
	})
	return r, nil
}

// As hands out the SDK client: target must be a **route53.Client.
func (r *Route53) As(target any) bool {
	p, ok := target.(**route53.Client)
	if ok {
		*p = r.client
	}
	return ok
}

// Set upserts the set in one change batch and waits until it is INSYNC.
func (r *Route53) Set(ctx context.Context, rs RecordSet) error {
	const op = "route53 set"
	n, err := rs.Normalize()
	if err != nil {
		return err
	}
	return r.change(ctx, op, n, []types.Change{{Action: types.ChangeActionUpsert, ResourceRecordSet: toR53(n)}})
}

// SetIf reads the current set; when its values are prev it sends one batch
// that DELETEs exactly what was read and CREATEs the new set (just CREATE
// when prev is empty). Route 53 fails the whole batch when the DELETE no
// longer matches, or the CREATE finds a set, so a change made by someone
// else between the read and the write is refused: ErrPrecondition.
func (r *Route53) SetIf(ctx context.Context, rs RecordSet, prev []string) error {
	const op = "route53 setif"
	n, err := rs.Normalize()
	if err != nil {
		return err
	}
	p, err := normalizePrev(op, n, prev)
	if err != nil {
		return err
	}
	cur, err := r.current(ctx, op, n.Name, n.Type)
	if err != nil {
		return err
	}
	var curVals []string
	if cur != nil {
		curVals = valuesOfR53(cur)
	}
	if !SameValues(n.Type, curVals, p) {
		return &Error{Kind: ErrPrecondition, Op: op, Name: n.Name, Type: n.Type, Server: r.endpoint,
			Err: fmt.Errorf("current values %s, want %s", joinValues(curVals), joinValues(p))}
	}
	var changes []types.Change
	if cur != nil {
		changes = append(changes, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: cur})
	}
	changes = append(changes, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: toR53(n)})
	err = r.change(ctx, op, n, changes)
	if errors.Is(err, ErrPrecondition) && attemptsOf(err) > 1 {
		// An earlier attempt may have been applied with its answer
		// lost; then the retry found our own change in place of prev.
		if now, rerr := r.current(ctx, op, n.Name, n.Type); rerr == nil && now != nil && SameValues(n.Type, valuesOfR53(now), n.Values) {
			r.logger.LogAttrs(ctx, slog.LevelInfo, "dns update applied by an earlier attempt", slog.String("op", op),
				slog.String("name", n.Name), slog.String("type", n.Type))
			return nil
		}
	}
	return err
}

// Delete reads the set (Route 53 deletes only with the exact current TTL
// and values) and deletes it. A set that is absent, or vanishes meanwhile,
// is not an error; one that changes meanwhile is read again.
func (r *Route53) Delete(ctx context.Context, name, typ string) error {
	const op = "route53 delete"
	n, t, err := normalizeKey(op, name, typ)
	if err != nil {
		return err
	}
	rs := RecordSet{Name: n, Type: t}
	for round := 0; ; round++ {
		cur, err := r.current(ctx, op, n, t)
		if err != nil || cur == nil {
			return err
		}
		err = r.change(ctx, op, rs, []types.Change{{Action: types.ChangeActionDelete, ResourceRecordSet: cur}})
		var e *Error
		if errors.As(err, &e) && e.Kind == ErrPrecondition {
			if strings.Contains(e.Err.Error(), "not found") {
				return nil
			}
			if round < 2 {
				continue
			}
		}
		return err
	}
}

// current returns the set as Route 53 holds it, or nil when absent.
func (r *Route53) current(ctx context.Context, op, name, typ string) (*types.ResourceRecordSet, error) {
	var out *route53.ListResourceRecordSetsOutput
	err := r.retrier.do(ctx, func(ctx context.Context, _ int) error {
		var err error
		out, err = r.client.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
			HostedZoneId:    aws.String(r.zoneID),
			StartRecordName: aws.String(name),
			StartRecordType: types.RRType(typ),
			MaxItems:        aws.Int32(1),
		})
		return r.classify(op, name, typ, err)
	})
	if err != nil {
		return nil, err
	}
	for i := range out.ResourceRecordSets {
		s := &out.ResourceRecordSets[i]
		if string(s.Type) != typ || unescapeR53(aws.ToString(s.Name)) != name {
			continue
		}
		if s.SetIdentifier != nil || s.AliasTarget != nil || s.TrafficPolicyInstanceId != nil {
			return nil, &Error{Kind: ErrConfig, Op: op, Name: name, Type: typ, Server: r.endpoint,
				Err: errors.New("the set is an alias or has a routing policy; only simple record sets are managed")}
		}
		return s, nil
	}
	return nil, nil
}

// change sends one batch, then waits for INSYNC.
func (r *Route53) change(ctx context.Context, op string, rs RecordSet, changes []types.Change) error {
	batch := &types.ChangeBatch{Changes: changes}
	if r.comment != "" {
		batch.Comment = aws.String(r.comment)
	}
	start := r.clock.Now()
	var info *types.ChangeInfo
	err := r.retrier.do(ctx, func(ctx context.Context, attempt int) error {
		out, err := r.client.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(r.zoneID),
			ChangeBatch:  batch,
		})
		if err == nil {
			info = out.ChangeInfo
		}
		return r.classify(op, rs.Name, rs.Type, err)
	})
	if err != nil {
		r.logger.LogAttrs(ctx, slog.LevelWarn, "dns update failed", slog.String("op", op), slog.String("name", rs.Name),
			slog.String("type", rs.Type), slog.String("zone", r.zoneID), slog.String("err", err.Error()))
		return err
	}
	if info == nil || info.Id == nil {
		return &Error{Kind: ErrUnavailable, Op: op, Name: rs.Name, Type: rs.Type, Server: r.endpoint, Err: errors.New("answer without ChangeInfo")}
	}
	if err := r.waitInsync(ctx, op, rs, info); err != nil {
		return err
	}
	r.logger.LogAttrs(ctx, slog.LevelInfo, "dns updated", slog.String("op", op), slog.String("name", rs.Name),
		slog.String("type", rs.Type), slog.Any("values", rs.Values), slog.String("zone", r.zoneID),
		slog.String("change", aws.ToString(info.Id)), slog.Duration("took", r.clock.Since(start)))
	return nil
}

// waitInsync polls GetChange until the change is INSYNC or SyncWait ends.
func (r *Route53) waitInsync(ctx context.Context, op string, rs RecordSet, info *types.ChangeInfo) error {
	if r.syncWait < 0 || info.Status == types.ChangeStatusInsync {
		return nil
	}
	id := aws.ToString(info.Id)
	deadline := r.clock.Now().Add(r.syncWait)
	status := info.Status
	for {
		if !r.clock.Now().Before(deadline) {
			return &Error{Kind: ErrUnavailable, Op: op, Name: rs.Name, Type: rs.Type, Server: r.endpoint,
				Err: fmt.Errorf("change %s still %s after %v (accepted; Route 53 has not reached all its servers)", id, status, r.syncWait)}
		}
		t := r.clock.NewTimer(r.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return &Error{Kind: ErrUnavailable, Op: op, Name: rs.Name, Type: rs.Type, Server: r.endpoint,
				Err: fmt.Errorf("change %s still %s: %w", id, status, ctx.Err())}
		case <-t.C():
		}
		out, err := r.client.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(id)})
		if err != nil {
			if cerr := r.classify(op, rs.Name, rs.Type, err); !Retryable(cerr) {
				return cerr
			}
			continue // throttled or unreachable: poll again
		}
		if out.ChangeInfo != nil {
			status = out.ChangeInfo.Status
		}
		if status == types.ChangeStatusInsync {
			return nil
		}
	}
}

// classify maps an SDK error to an *Error of the right kind.
func (r *Route53) classify(op, name, typ string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	e := &Error{Op: op, Name: name, Type: typ, Server: r.endpoint, Err: err}
	var icb *types.InvalidChangeBatch
	if errors.As(err, &icb) {
		msg := strings.Join(icb.Messages, "; ")
		if msg == "" {
			msg = icb.ErrorMessage()
		}
		e.Err = fmt.Errorf("InvalidChangeBatch: %s", msg)
		e.Kind = ErrConfig
		for _, s := range []string{"not found", "do not match", "already exists", "conflicting", "conflicts"} {
			if strings.Contains(msg, s) {
				e.Kind = ErrPrecondition
			}
		}
		return e
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch code := api.ErrorCode(); code {
		case "Throttling", "ThrottlingException", "PriorRequestNotComplete", "RequestLimitExceeded",
			"ServiceUnavailable", "InternalFailure", "InternalError", "RequestTimeout":
			e.Kind = ErrUnavailable
		case "RequestExpired", "RequestTimeTooSkewed":
			e.Kind = ErrClockSkew
		default:
			e.Kind = ErrConfig
			if strings.Contains(api.ErrorMessage(), "Signature expired") || strings.Contains(api.ErrorMessage(), "too skewed") {
				e.Kind = ErrClockSkew
			} else if api.ErrorFault() == smithy.FaultServer || status >= 500 || status == http.StatusTooManyRequests {
				e.Kind = ErrUnavailable
			}
		}
		if e.Kind == ErrUnavailable {
			if ra := retryAfterHeader(err); ra > 0 {
				e.Err = &retryAfter{err: err, delay: ra}
			}
		}
		return e
	}
	if status != 0 && status < 500 && status != http.StatusTooManyRequests {
		e.Kind = ErrConfig
		return e
	}
	// Network errors, 5xx and 429 without a known code.
	e.Kind = ErrUnavailable
	return e
}

func retryAfterHeader(err error) time.Duration {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil {
		return 0
	}
	s, err2 := strconv.Atoi(re.Response.Header.Get("Retry-After"))
	if err2 != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

func toR53(rs RecordSet) *types.ResourceRecordSet {
	out := &types.ResourceRecordSet{
		Name: aws.String(rs.Name),
		Type: types.RRType(rs.Type),
		TTL:  aws.Int64(int64(rs.TTL / time.Second)),
	}
	for _, v := range rs.Values {
		out.ResourceRecords = append(out.ResourceRecords, types.ResourceRecord{Value: aws.String(v)})
	}
	return out
}

func valuesOfR53(s *types.ResourceRecordSet) []string {
	var out []string
	for _, rr := range s.ResourceRecords {
		out = append(out, aws.ToString(rr.Value))
	}
	return out
}

// unescapeR53 undoes Route 53's octal escapes in names ("\052" is "*") and
// lower-cases the name.
func unescapeR53(name string) string {
	if !strings.Contains(name, `\`) {
		return strings.ToLower(name)
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] == '\\' && i+3 < len(name) {
			if v, err := strconv.ParseUint(name[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(name[i])
	}
	return strings.ToLower(b.String())
}
