package ec2

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
)

// Register adds instances to a classic ELB with one
// RegisterInstancesWithLoadBalancer call; registering one twice is not an
// error. A load balancer that does not exist gives NotFound (ELB's
// LoadBalancerNotFound), as does an instance ELB finds invalid
// (InvalidInstance: unknown or terminated).
func (p *Provider) Register(ctx context.Context, loadBalancer string, serverIDs ...string) error {
	const op = "elb.RegisterInstancesWithLoadBalancer"
	if len(serverIDs) == 0 {
		return nil
	}
	_, err := p.elb.RegisterInstancesWithLoadBalancer(ctx, &elasticloadbalancing.RegisterInstancesWithLoadBalancerInput{
		LoadBalancerName: aws.String(loadBalancer),
		Instances:        elbInstances(serverIDs),
	})
	if err != nil {
		return wrap(op, "load balancer "+quote(loadBalancer)+", instances "+summary(serverIDs), err)
	}
	p.log.InfoContext(ctx, "registered with load balancer", "load_balancer", loadBalancer, "ids", serverIDs)
	return nil
}

// HasLoadBalancer asks ELB (DescribeLoadBalancers with the one name)
// whether a classic load balancer exists: LoadBalancerNotFound is no.
func (p *Provider) HasLoadBalancer(ctx context.Context, loadBalancer string) (bool, error) {
	const op = "elb.DescribeLoadBalancers"
	_, err := p.elb.DescribeLoadBalancers(ctx, &elasticloadbalancing.DescribeLoadBalancersInput{
		LoadBalancerNames: []string{loadBalancer},
	})
	if apiCode(err) == "LoadBalancerNotFound" {
		return false, nil
	}
	if err != nil {
		return false, wrap(op, "load balancer "+quote(loadBalancer), err)
	}
	return true, nil
}

// Deregister removes instances from a classic ELB. An instance that is not
// registered is not an error; neither is one ELB finds invalid (it is gone,
// so it is not registered either): when ELB rejects the batch for one, the
// driver deregisters the others one by one. A load balancer that does not
// exist gives NotFound.
func (p *Provider) Deregister(ctx context.Context, loadBalancer string, serverIDs ...string) error {
	const op = "elb.DeregisterInstancesFromLoadBalancer"
	if len(serverIDs) == 0 {
		return nil
	}
	deregister := func(ids []string) error {
		_, err := p.elb.DeregisterInstancesFromLoadBalancer(ctx, &elasticloadbalancing.DeregisterInstancesFromLoadBalancerInput{
			LoadBalancerName: aws.String(loadBalancer),
			Instances:        elbInstances(ids),
		})
		return err
	}
	err := deregister(serverIDs)
	if err != nil && apiCode(err) == "InvalidInstance" && len(serverIDs) > 1 {
		err = nil
		for _, id := range serverIDs {
			if e := deregister([]string{id}); e != nil && apiCode(e) != "InvalidInstance" {
				err = e
				break
			}
		}
	} else if apiCode(err) == "InvalidInstance" {
		err = nil
	}
	if err != nil {
		return wrap(op, "load balancer "+quote(loadBalancer)+", instances "+summary(serverIDs), err)
	}
	p.log.InfoContext(ctx, "deregistered from load balancer", "load_balancer", loadBalancer, "ids", serverIDs)
	return nil
}

func elbInstances(ids []string) []elbtypes.Instance {
	out := make([]elbtypes.Instance, 0, len(ids))
	for _, id := range slices.Compact(slices.Clone(ids)) {
		out = append(out, elbtypes.Instance{InstanceId: aws.String(id)})
	}
	return out
}
