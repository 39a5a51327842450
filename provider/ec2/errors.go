package ec2

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/smithy-go"

	"github.com/farmhand/farmhand/provider"
)

// codeOf maps an EC2 or classic ELB API error code to a provider Code.
// Unknown means the code says nothing the caller can act on; wrap then
// looks at the HTTP status.
func codeOf(code string) provider.Code {
	// The API reference writes codes as Client.X / Server.X; the wire
	// carries X alone, but both are accepted.
	code = strings.TrimPrefix(strings.TrimPrefix(code, "Client."), "Server.")
	switch code {
	case "InsufficientInstanceCapacity", "InsufficientCapacity", "InsufficientHostCapacity",
		"InsufficientReservedInstanceCapacity", "InsufficientCapacityOnHost":
		return provider.InsufficientCapacity
	case "InstanceLimitExceeded", "VcpuLimitExceeded", "MaxSpotInstanceCountExceeded",
		"VolumeLimitExceeded", "SnapshotLimitExceeded", "ResourceLimitExceeded",
		"InstanceCreditLimitExceeded", "TooManyLoadBalancers", "TooManyTags":
		return provider.QuotaExceeded
	case "RequestLimitExceeded", "Throttling", "ThrottlingException", "RequestThrottled",
		"EC2ThrottledException", "BandwidthLimitExceeded":
		return provider.Throttled
	case "UnauthorizedOperation", "AuthFailure", "Blocked", "OptInRequired", "PendingVerification",
		"AccessDenied", "AccessDeniedException", "SignatureDoesNotMatch", "InvalidClientTokenId",
		"UnrecognizedClientException", "ExpiredToken", "RequestExpired":
		return provider.PermissionDenied
	case "IdempotentParameterMismatch", "InvalidKeyPair.Duplicate", "DuplicateLoadBalancerName":
		return provider.AlreadyExists
	case "InternalError", "InternalFailure", "Unavailable", "ServiceUnavailable":
		return provider.Unavailable
	case "LoadBalancerNotFound", "InvalidInstance":
		return provider.NotFound
	case "InvalidParameterValue", "InvalidParameter", "InvalidParameterCombination",
		"MissingParameter", "UnknownParameter", "InvalidKey.Format", "InvalidUserData.Malformed",
		"IncorrectInstanceState", "IncorrectState", "Unsupported", "UnsupportedOperation",
		"InvalidBlockDeviceMapping", "InvalidInstanceType", "ValidationError":
		return provider.InvalidArgument
	}
	switch {
	case strings.HasPrefix(code, "InvalidAMIID."):
		// The launch spec names an image that is not there or not an
		// image ID: the caller's argument is wrong.
		return provider.InvalidArgument
	case strings.HasSuffix(code, ".NotFound"):
		return provider.NotFound
	case strings.HasSuffix(code, ".Malformed"):
		// An ID that is not even well-formed names nothing the cloud has:
		// Get and Reboot report NotFound for it, as for an unknown ID,
		// and Terminate ignores it. The API error stays reachable with
		// errors.As.
		return provider.NotFound
	}
	return provider.Unknown
}

// wrap turns an error of an SDK call into a *provider.Error. what names
// the object of the call ("instance i-0abc…", "zone us-east-1a") so that
// the message says which value failed. The SDK's error stays reachable
// with errors.As (smithy.APIError, *smithy.OperationError).
func wrap(op, what string, err error) error {
	if err == nil {
		return nil
	}
	var pe *provider.Error
	if errors.As(err, &pe) {
		return err
	}
	if what != "" {
		err = fmt.Errorf("%s: %w", what, err)
	}
	return provider.NewError(classify(err), op, err)
}

func classify(err error) provider.Code {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller's context ended: not the cloud's fault, and not worth
		// retrying unless the caller decides to.
		return provider.Unknown
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if c := codeOf(ae.ErrorCode()); c != provider.Unknown {
			return c
		}
	}
	var quota ratelimit.QuotaExceededError
	if errors.As(err, &quota) {
		// The SDK's client-side retry budget ran dry: the API has been
		// throttling or failing for a while.
		return provider.Throttled
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() > 0 {
		switch s := status.HTTPStatusCode(); {
		case s == http.StatusTooManyRequests:
			return provider.Throttled
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			return provider.PermissionDenied
		case s >= 500:
			return provider.Unavailable
		default:
			return provider.Unknown
		}
	}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return provider.Unknown
	}
	// No HTTP answer at all: refused or reset connections, timeouts of the
	// transport, DNS failures. Retrying later may work.
	return provider.Unavailable
}

// apiCode returns the API error code in err's chain, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// apiMessage returns the API error message in err's chain, or "".
func apiMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}
