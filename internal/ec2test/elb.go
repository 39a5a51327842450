package ec2test

import "slices"

// elbInstanceIDs reads Instances.member.N.InstanceId.
func elbInstanceIDs(req *request) []string {
	var ids []string
	for i := 1; ; i++ {
		v, ok := req.form["Instances.member."+itoa(i)+".InstanceId"]
		if !ok {
			return ids
		}
		ids = append(ids, v[0])
	}
}

// checkELBInstances answers InvalidInstance, as ELB does, for an ID EC2
// does not know or that is terminated.
func (s *Server) checkELBInstances(ids []string) *apiError {
	for _, id := range ids {
		in, ok := s.byID[id]
		if !ok || in.state == "terminated" || in.state == "shutting-down" {
			return newAPIError("InvalidInstance", "The requested instance %s is not valid.", id)
		}
	}
	return nil
}

func (s *Server) loadBalancer(name string) ([]string, *apiError) {
	ids, ok := s.lbs[name]
	if !ok {
		return nil, newAPIError("LoadBalancerNotFound", "There is no ACTIVE Load Balancer named '%s'", name)
	}
	return ids, nil
}

func (s *Server) registerInstancesWithLoadBalancer(req *request) (any, *apiError) {
	name := req.form.Get("LoadBalancerName")
	registered, aerr := s.loadBalancer(name)
	if aerr != nil {
		return nil, aerr
	}
	ids := elbInstanceIDs(req)
	if aerr := s.checkELBInstances(ids); aerr != nil {
		return nil, aerr
	}
	for _, id := range ids {
		if !slices.Contains(registered, id) {
			registered = append(registered, id)
		}
	}
	s.lbs[name] = registered
	return s.elbAnswer("RegisterInstancesWithLoadBalancer", registered), nil
}

func (s *Server) deregisterInstancesFromLoadBalancer(req *request) (any, *apiError) {
	name := req.form.Get("LoadBalancerName")
	registered, aerr := s.loadBalancer(name)
	if aerr != nil {
		return nil, aerr
	}
	ids := elbInstanceIDs(req)
	for _, id := range ids {
		if _, ok := s.byID[id]; !ok {
			return nil, newAPIError("InvalidInstance", "The requested instance %s is not valid.", id)
		}
	}
	registered = slices.DeleteFunc(registered, func(id string) bool { return slices.Contains(ids, id) })
	s.lbs[name] = registered
	return s.elbAnswer("DeregisterInstancesFromLoadBalancer", registered), nil
}

// describeLoadBalancers answers the load balancers named in
// LoadBalancerNames.member.N, all of them when none is named; a name that
// does not exist is LoadBalancerNotFound, as ELB answers. The answer is
// one page (no NextMarker).
func (s *Server) describeLoadBalancers(req *request) (any, *apiError) {
	var names []string
	for i := 1; ; i++ {
		v, ok := req.form["LoadBalancerNames.member."+itoa(i)]
		if !ok {
			break
		}
		names = append(names, v[0])
	}
	if len(names) == 0 {
		for name := range s.lbs {
			names = append(names, name)
		}
		slices.Sort(names)
	}
	resp := describeLoadBalancersResponse{Xmlns: elbNamespace, RequestID: s.requestIDLocked()}
	for _, name := range names {
		ids, aerr := s.loadBalancer(name)
		if aerr != nil {
			return nil, aerr
		}
		d := xLoadBalancer{Name: name, DNSName: name + ".elb.example"}
		d.InstanceIDs = ids
		resp.LoadBalancers = append(resp.LoadBalancers, d)
	}
	return resp, nil
}
