// Package route53 is a dnsupdate.Updater for an Amazon Route 53 hosted
// zone, through aws-sdk-go-v2. It lives in its own package so that a
// program using only the other updaters (RFC 2136, DNS Made Easy, dyndns2,
// in memory) does not link the AWS SDK.
//
//	u, err := route53.New(cfg, route53.Options{HostedZoneID: "Z0123456789ABC"})
//	f, err := farm.New(spec, cloud, &farm.Options{DNS: u})
//
// [Updater.Set] calls ChangeResourceRecordSets with an UPSERT and then polls
// GetChange until the change is INSYNC (every [Options].SyncPoll, at most
// [Options].SyncWait); [Updater.SetIf] is a compare-and-swap (DELETE of the
// exact current set and CREATE of the new one in one atomic batch);
// Throttling, PriorRequestNotComplete, server and network errors are
// retried (dnsupdate.ErrUnavailable), other errors are final. Only simple
// record sets are managed; alias and routing-policy sets are refused with
// dnsupdate.ErrConfig. [Updater.As] hands out the *route53.Client of the
// SDK.
package route53

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
	awsr53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"

	"github.com/farmhand/farmhand/clock"
	"github.com/farmhand/farmhand/dnsupdate"
	"github.com/farmhand/farmhand/internal/retry"
)

// Defaults of [Options].
const (
	DefaultPoll     = 2 * time.Second
	DefaultSyncWait = 3 * time.Minute
	DefaultBackoff  = 500 * time.Millisecond
)

// Options configure an [Updater]. HostedZoneID is required.
type Options struct {
	// HostedZoneID is the hosted zone's ID ("Z0123456789ABC"; a
	// "/hostedzone/" prefix is accepted).
	HostedZoneID string
	// SyncPoll is the wait before each GetChange while waiting for a
	// change to reach every Route 53 server (INSYNC); default
	// DefaultPoll.
	SyncPoll time.Duration
	// SyncWait bounds that wait; default DefaultSyncWait. Negative
	// disables waiting: calls return once Route 53 accepted the change.
	SyncWait time.Duration
	// Attempts is the most attempts per API call for Throttling,
	// PriorRequestNotComplete, server errors and network errors; default
	// dnsupdate.DefaultAttempts. Backoff is the first wait, doubling;
	// default DefaultBackoff.
	Attempts int
	Backoff  time.Duration
	// Comment is sent with every change batch.
	Comment string
	// Clock times polls and back-off; nil means the real clock.
	Clock  clock.Clock
	Logger *slog.Logger
}

// Updater updates an Amazon Route 53 hosted zone through
// ChangeResourceRecordSets. It handles simple record sets only (no alias,
// weighted, latency, failover or geolocation sets; such a set is refused
// with dnsupdate.ErrConfig). It is safe for concurrent use.
type Updater struct {
	client   *awsr53.Client
	zoneID   string
	poll     time.Duration
	syncWait time.Duration
	comment  string
	clock    clock.Clock
	logger   *slog.Logger
	attempts int
	backoff  time.Duration
	endpoint string
}

var (
	_ dnsupdate.Updater = (*Updater)(nil)
	_ dnsupdate.Swapper = (*Updater)(nil)
)

// New returns an updater using cfg (region, credentials, HTTP client,
// BaseEndpoint). Route 53 is a global service: an empty cfg.Region is taken
// as us-east-1. The SDK's own retries are turned off; the updater retries
// with its clock instead.
func New(cfg aws.Config, opts Options) (*Updater, error) {
	zone := strings.TrimPrefix(strings.TrimSpace(opts.HostedZoneID), "/hostedzone/")
	if zone == "" || strings.ContainsAny(zone, "/?#& ") {
		return nil, fmt.Errorf("route53: hosted zone id %q: want an ID such as Z0123456789ABC", opts.HostedZoneID)
	}
	r := &Updater{
		zoneID:   zone,
		poll:     opts.SyncPoll,
		syncWait: opts.SyncWait,
		comment:  opts.Comment,
		clock:    clock.Or(opts.Clock),
		logger:   orDiscard(opts.Logger),
		endpoint: "route53",
	}
	if r.poll <= 0 {
		r.poll = DefaultPoll
	}
	if r.syncWait == 0 {
		r.syncWait = DefaultSyncWait
	}
	backoff := opts.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	if cfg.BaseEndpoint != nil {
		r.endpoint = *cfg.BaseEndpoint
	}
	r.attempts, r.backoff = opts.Attempts, backoff
	if r.attempts <= 0 {
		r.attempts = dnsupdate.DefaultAttempts
	}
	r.client = awsr53.NewFromConfig(cfg, func(o *awsr53.Options) {
		o.Retryer = aws.NopRetryer{}
		if o.Region == "" {
			o.Region = "us-east-1"
		}
	})
	return r, nil
}

// As hands out the SDK client: target must be a **route53.Client (of the SDK's service/route53).
func (r *Updater) As(target any) bool {
	p, ok := target.(**awsr53.Client)
	if ok {
		*p = r.client
	}
	return ok
}

// Set upserts the set in one change batch and waits until it is INSYNC.
func (r *Updater) Set(ctx context.Context, rs dnsupdate.RecordSet) error {
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
// else between the read and the write is refused: dnsupdate.ErrPrecondition.
func (r *Updater) SetIf(ctx context.Context, rs dnsupdate.RecordSet, prev []string) error {
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
	if !dnsupdate.SameValues(n.Type, curVals, p) {
		return &dnsupdate.Error{Kind: dnsupdate.ErrPrecondition, Op: op, Name: n.Name, Type: n.Type, Server: r.endpoint,
			Err: fmt.Errorf("current values %s, want %s", joinValues(curVals), joinValues(p))}
	}
	var changes []types.Change
	if cur != nil {
		changes = append(changes, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: cur})
	}
	changes = append(changes, types.Change{Action: types.ChangeActionCreate, ResourceRecordSet: toR53(n)})
	err = r.change(ctx, op, n, changes)
	if errors.Is(err, dnsupdate.ErrPrecondition) && attemptsOf(err) > 1 {
		// An earlier attempt may have been applied with its answer
		// lost; then the retry found our own change in place of prev.
		if now, rerr := r.current(ctx, op, n.Name, n.Type); rerr == nil && now != nil && dnsupdate.SameValues(n.Type, valuesOfR53(now), n.Values) {
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
func (r *Updater) Delete(ctx context.Context, name, typ string) error {
	const op = "route53 delete"
	n, t, err := normalizeKey(op, name, typ)
	if err != nil {
		return err
	}
	rs := dnsupdate.RecordSet{Name: n, Type: t}
	for round := 0; ; round++ {
		cur, err := r.current(ctx, op, n, t)
		if err != nil || cur == nil {
			return err
		}
		err = r.change(ctx, op, rs, []types.Change{{Action: types.ChangeActionDelete, ResourceRecordSet: cur}})
		var e *dnsupdate.Error
		if errors.As(err, &e) && e.Kind == dnsupdate.ErrPrecondition {
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
func (r *Updater) current(ctx context.Context, op, name, typ string) (*types.ResourceRecordSet, error) {
	var out *awsr53.ListResourceRecordSetsOutput
	err := r.retry(ctx, func(ctx context.Context, _ int) error {
		var err error
		out, err = r.client.ListResourceRecordSets(ctx, &awsr53.ListResourceRecordSetsInput{
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
			return nil, &dnsupdate.Error{Kind: dnsupdate.ErrConfig, Op: op, Name: name, Type: typ, Server: r.endpoint,
				Err: errors.New("the set is an alias or has a routing policy; only simple record sets are managed")}
		}
		return s, nil
	}
	return nil, nil
}

// change sends one batch, then waits for INSYNC.
func (r *Updater) change(ctx context.Context, op string, rs dnsupdate.RecordSet, changes []types.Change) error {
	batch := &types.ChangeBatch{Changes: changes}
	if r.comment != "" {
		batch.Comment = aws.String(r.comment)
	}
	start := r.clock.Now()
	var info *types.ChangeInfo
	err := r.retry(ctx, func(ctx context.Context, attempt int) error {
		out, err := r.client.ChangeResourceRecordSets(ctx, &awsr53.ChangeResourceRecordSetsInput{
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
		return &dnsupdate.Error{Kind: dnsupdate.ErrUnavailable, Op: op, Name: rs.Name, Type: rs.Type, Server: r.endpoint, Err: errors.New("answer without ChangeInfo")}
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
func (r *Updater) waitInsync(ctx context.Context, op string, rs dnsupdate.RecordSet, info *types.ChangeInfo) error {
	if r.syncWait < 0 || info.Status == types.ChangeStatusInsync {
		return nil
	}
	id := aws.ToString(info.Id)
	deadline := r.clock.Now().Add(r.syncWait)
	status := info.Status
	for {
		if !r.clock.Now().Before(deadline) {
			return &dnsupdate.Error{Kind: dnsupdate.ErrUnavailable, Op: op, Name: rs.Name, Type: rs.Type, Server: r.endpoint,
				Err: fmt.Errorf("change %s still %s after %v (accepted; Route 53 has not reached all its servers)", id, status, r.syncWait)}
		}
		t := r.clock.NewTimer(r.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return &dnsupdate.Error{Kind: dnsupdate.ErrUnavailable, Op: op, Name: rs.Name, Type: rs.Type, Server: r.endpoint,
				Err: fmt.Errorf("change %s still %s: %w", id, status, ctx.Err())}
		case <-t.C():
		}
		out, err := r.client.GetChange(ctx, &awsr53.GetChangeInput{Id: aws.String(id)})
		if err != nil {
			if cerr := r.classify(op, rs.Name, rs.Type, err); !dnsupdate.Retryable(cerr) {
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

// classify maps an SDK error to an *dnsupdate.Error of the right kind.
func (r *Updater) classify(op, name, typ string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	e := &dnsupdate.Error{Op: op, Name: name, Type: typ, Server: r.endpoint, Err: err}
	var icb *types.InvalidChangeBatch
	if errors.As(err, &icb) {
		msg := strings.Join(icb.Messages, "; ")
		if msg == "" {
			msg = icb.ErrorMessage()
		}
		e.Err = fmt.Errorf("InvalidChangeBatch: %s", msg)
		e.Kind = dnsupdate.ErrConfig
		for _, s := range []string{"not found", "do not match", "already exists", "conflicting", "conflicts"} {
			if strings.Contains(msg, s) {
				e.Kind = dnsupdate.ErrPrecondition
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
			e.Kind = dnsupdate.ErrUnavailable
		case "RequestExpired", "RequestTimeTooSkewed":
			e.Kind = dnsupdate.ErrClockSkew
		default:
			e.Kind = dnsupdate.ErrConfig
			if strings.Contains(api.ErrorMessage(), "Signature expired") || strings.Contains(api.ErrorMessage(), "too skewed") {
				e.Kind = dnsupdate.ErrClockSkew
			} else if api.ErrorFault() == smithy.FaultServer || status >= 500 || status == http.StatusTooManyRequests {
				e.Kind = dnsupdate.ErrUnavailable
			}
		}
		if e.Kind == dnsupdate.ErrUnavailable {
			if ra := retryAfterHeader(err); ra > 0 {
				e.Err = retry.WithDelay(err, ra)
			}
		}
		return e
	}
	if status != 0 && status < 500 && status != http.StatusTooManyRequests {
		e.Kind = dnsupdate.ErrConfig
		return e
	}
	// Network errors, 5xx and 429 without a known code.
	e.Kind = dnsupdate.ErrUnavailable
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

func toR53(rs dnsupdate.RecordSet) *types.ResourceRecordSet {
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

// retry calls op through the project's retry helper with this updater's
// attempts and clock: only dnsupdate.ErrUnavailable is retried, a
// Retry-After from Route 53 stretches the wait, and the *dnsupdate.Error of
// a call that took several attempts records how many.
func (r *Updater) retry(ctx context.Context, op func(ctx context.Context, attempt int) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	policy := retry.Policy{
		Tries: r.attempts, Initial: r.backoff, Max: max(dnsupdate.DefaultMaxBackoff, r.backoff), Jitter: -1,
		RetryAfter: retry.DelayOf,
		OnRetry: func(attempt int, wait time.Duration, err error) {
			r.logger.LogAttrs(ctx, slog.LevelWarn, "dns update attempt failed; retrying",
				slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("err", err.Error()))
		},
	}
	return retry.DoTries(ctx, r.clock, policy, dnsupdate.Retryable, func(ctx context.Context, attempt int) error {
		err := op(ctx, attempt)
		var e *dnsupdate.Error
		if errors.As(err, &e) && attempt > 1 {
			e.Attempts = attempt
		}
		return err
	})
}

// attemptsOf returns the attempts recorded in err's *dnsupdate.Error, or 1.
func attemptsOf(err error) int {
	var e *dnsupdate.Error
	if errors.As(err, &e) && e.Attempts > 1 {
		return e.Attempts
	}
	return 1
}

// normalizeKey validates the name and type given to Delete.
func normalizeKey(op, name, typ string) (string, string, error) {
	n, err := dnsupdate.CanonicalName(name)
	if err != nil {
		return "", "", &dnsupdate.Error{Kind: dnsupdate.ErrInvalid, Op: op, Type: typ, Err: err}
	}
	t := strings.ToUpper(strings.TrimSpace(typ))
	switch t {
	case dnsupdate.TypeA, dnsupdate.TypeAAAA, dnsupdate.TypeCNAME:
		return n, t, nil
	}
	return "", "", &dnsupdate.Error{Kind: dnsupdate.ErrInvalid, Op: op, Name: n, Err: fmt.Errorf("type %q: want A, AAAA or CNAME", typ)}
}

// normalizePrev canonicalizes the expected current values of a
// compare-and-swap the way dnsupdate.RecordSet.Normalize does values.
func normalizePrev(op string, rs dnsupdate.RecordSet, prev []string) ([]string, error) {
	if len(prev) == 0 {
		return nil, nil
	}
	n, err := dnsupdate.RecordSet{Name: rs.Name, Type: rs.Type, TTL: rs.TTL, Values: prev}.Normalize()
	if err != nil {
		var e *dnsupdate.Error
		if errors.As(err, &e) {
			err = e.Err
		}
		return nil, &dnsupdate.Error{Kind: dnsupdate.ErrInvalid, Op: op, Name: rs.Name, Type: rs.Type, Err: fmt.Errorf("prev: %w", err)}
	}
	return n.Values, nil
}

func joinValues(v []string) string {
	if len(v) == 0 {
		return "nothing"
	}
	return "[" + strings.Join(v, " ") + "]"
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
