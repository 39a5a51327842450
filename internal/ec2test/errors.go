package ec2test

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// apiError is an error answer EC2 or ELB gives.
type apiError struct {
	code    string
	message string
}

func newAPIError(code, format string, args ...any) *apiError {
	return &apiError{code: code, message: fmt.Sprintf(format, args...)}
}

// statusOf returns the HTTP status EC2 answers an error code with: server
// errors (capacity, throttling, internal) are 5xx, which the SDK's retryer
// treats as retryable unless told otherwise; authentication 401,
// authorization 403, everything else 400.
func statusOf(code string) int {
	switch code {
	case "InsufficientInstanceCapacity", "InsufficientCapacity", "InsufficientHostCapacity",
		"InsufficientReservedInstanceCapacity", "InternalError", "InsufficientAddressCapacity":
		return http.StatusInternalServerError
	case "RequestLimitExceeded", "Unavailable", "ServiceUnavailable", "Throttling":
		return http.StatusServiceUnavailable
	case "DryRunOperation":
		return http.StatusPreconditionFailed
	case "AuthFailure":
		return http.StatusUnauthorized
	case "UnauthorizedOperation", "Blocked", "OptInRequired":
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// defaultMessages are EC2's messages for codes injected by FailNext.
var defaultMessages = map[string]string{
	"RequestLimitExceeded":         "Request limit exceeded.",
	"InsufficientInstanceCapacity": "We currently do not have sufficient capacity in the Availability Zone you requested.",
	"InstanceLimitExceeded":        "You have requested more instances than your current instance limit allows for the specified instance type.",
	"VcpuLimitExceeded":            "You have requested more vCPU capacity than your current vCPU limit allows.",
	"UnauthorizedOperation":        "You are not authorized to perform this operation.",
	"AuthFailure":                  "AWS was not able to validate the provided access credentials",
	"InternalError":                "An internal error has occurred.",
	"Unavailable":                  "The server is overloaded and can't handle the request.",
	"LoadBalancerNotFound":         "There is no ACTIVE Load Balancer named 'x'",
	"Throttling":                   "Rate exceeded",
}

func (s *Server) writeError(w http.ResponseWriter, req *request, e *apiError) {
	msg := e.message
	if strings.HasPrefix(msg, "Injected failure") {
		if m, ok := defaultMessages[e.code]; ok {
			msg = m
		}
	}
	s.writeErrorBody(w, req.service, statusOf(e.code), e.code, msg)
}

func (s *Server) violation(w http.ResponseWriter, v *violation) {
	if s.opts.Violation != nil {
		s.opts.Violation(v.msg)
	}
	s.writeErrorBody(w, v.service, v.status, v.code, v.msg)
}

// EC2's error body:
//
//	<Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors><RequestID>..</RequestID></Response>
type ec2ErrorResponse struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

// ELB's (awsQuery) error body:
//
//	<ErrorResponse xmlns=".."><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>
type elbErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func (s *Server) writeErrorBody(w http.ResponseWriter, service string, status int, code, msg string) {
	var body any
	if service == "elasticloadbalancing" {
		typ := "Sender"
		if status >= 500 {
			typ = "Receiver"
		}
		body = elbErrorResponse{Xmlns: elbNamespace, Type: typ, Code: code, Message: msg, RequestID: s.requestID()}
	} else {
		body = ec2ErrorResponse{Code: code, Message: msg, RequestID: s.requestID()}
	}
	out, err := xml.Marshal(body)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(out)
}

const (
	ec2Namespace = "http://ec2.amazonaws.com/doc/" + EC2Version + "/"
	elbNamespace = "http://elasticloadbalancing.amazonaws.com/doc/" + ELBVersion + "/"
)

// writeXML answers 200 with body, whose root element is named after the
// action by the handler.
func (s *Server) writeXML(w http.ResponseWriter, req *request, body any) {
	out, err := xml.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("ec2test: marshalling %s response: %v", req.action, err))
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(xml.Header))
	w.Write(out)
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requestIDLocked()
}

// requestIDLocked returns a new request ID; callers hold s.mu.
func (s *Server) requestIDLocked() string {
	s.seq++
	return fmt.Sprintf("59dbff89-35bd-4eac-99ed-%012x", s.seq)
}
