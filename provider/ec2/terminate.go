package ec2

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/farmhand/farmhand/provider"
)

// maxTerminateBatch is how many instance IDs one TerminateInstances call
// takes.
const maxTerminateBatch = 1000

// Terminate terminates the instances with as few TerminateInstances calls
// as EC2 allows (1000 IDs each). It is idempotent: an instance already
// terminated is terminated again without error by EC2, and an ID EC2 does
// not know (long terminated, or not an instance ID) is dropped. EC2 fails a
// whole call when one ID is unknown and names the unknown IDs in its
// message; the driver calls again without them, and when the message names
// none it falls back to one call per ID.
func (p *Provider) Terminate(ctx context.Context, ids ...string) error {
	var todo []string
	for _, id := range ids {
		if id != "" && !slices.Contains(todo, id) {
			todo = append(todo, id)
		}
	}
	for batch := range slices.Chunk(todo, maxTerminateBatch) {
		if err := p.terminateBatch(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) terminateBatch(ctx context.Context, ids []string) error {
	const op = "ec2.TerminateInstances"
	ids = slices.Clone(ids)
	for len(ids) > 0 {
		_, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: ids})
		if err == nil {
			p.log.InfoContext(ctx, "terminating", "count", len(ids), "ids", summary(ids))
			return nil
		}
		if !unknownInstance(err) {
			return wrap(op, "instances "+summary(ids), err)
		}
		named := quotedIDs(apiMessage(err))
		before := len(ids)
		ids = slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(named, id) })
		if len(ids) == before {
			return p.terminateEach(ctx, ids)
		}
		p.log.DebugContext(ctx, "terminate: dropped IDs EC2 does not know", "ids", named)
	}
	return nil
}

// terminateEach terminates one instance per call, ignoring unknown ones.
func (p *Provider) terminateEach(ctx context.Context, ids []string) error {
	const op = "ec2.TerminateInstances"
	for _, id := range ids {
		_, err := p.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
		switch {
		case err == nil:
			p.log.InfoContext(ctx, "terminating", "count", 1, "ids", []string{id})
		case unknownInstance(err):
		default:
			return wrap(op, "instance "+id, err)
		}
	}
	return nil
}

func unknownInstance(err error) bool {
	code := apiCode(err)
	return code == "InvalidInstanceID.NotFound" || code == "InvalidInstanceID.Malformed"
}

var quoted = regexp.MustCompile(`'([^']*)'|"([^"]*)"`)

// quotedIDs returns the IDs EC2 names in an error message: "The instance
// IDs 'i-1, i-2' do not exist" gives i-1 and i-2, `Invalid id: "x"
// (expecting "i-...")` gives x (and i-..., which matches nothing).
func quotedIDs(msg string) []string {
	var out []string
	for _, m := range quoted.FindAllStringSubmatch(msg, -1) {
		for _, id := range strings.Split(m[1]+m[2], ",") {
			if id = strings.TrimSpace(id); id != "" {
				out = append(out, id)
			}
		}
	}
	return out
}

// summary names a few IDs of a batch for an error message.
func summary(ids []string) string {
	if len(ids) <= 5 {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:5], ", ") + " and " + itoa(len(ids)-5) + " more"
}

// Reboot reboots an instance with RebootInstances. An unknown or malformed
// ID gives NotFound; an instance that is shutting down or terminated gives
// InvalidArgument (EC2's IncorrectInstanceState).
func (p *Provider) Reboot(ctx context.Context, id string) error {
	const op = "ec2.RebootInstances"
	if id == "" {
		return provider.Errorf(provider.NotFound, op, "empty instance ID")
	}
	if _, err := p.ec2.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: []string{id}}); err != nil {
		return wrap(op, "instance "+id, err)
	}
	p.log.InfoContext(ctx, "rebooting", "id", id)
	return nil
}
