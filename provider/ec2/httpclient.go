package ec2

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// plainBodyClient hides io.WriterTo on request bodies before they reach
// net/http. smithy-go wraps a request body in a reader whose WriteTo
// answers io.EOF once the body is closed, and closes it as soon as the
// response has arrived. net/http, after copying Content-Length bytes,
// copies the rest of the body to check that there is none; when the
// response (and the close) won that race, that copy goes through WriteTo,
// fails with io.EOF, and the transport closes the connection under the
// response being read: "failed to decode response body ... use of closed
// network connection", retried as a transient error. An API that answers
// within microseconds (a server on loopback, or an endpoint close by) hits
// it often; without WriteTo the copy reads EOF and succeeds.
type plainBodyClient struct{ inner aws.HTTPClient }

// plainBody has only Read and Close.
type plainBody struct{ io.ReadCloser }

func (c plainBodyClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = plainBody{r.Body}
	}
	return c.inner.Do(r)
}

// withPlainBodies wraps the configured HTTP client, or the SDK's default.
func withPlainBodies(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		c = awshttp.NewBuildableClient()
	}
	if _, done := c.(plainBodyClient); done {
		return c
	}
	return plainBodyClient{inner: c}
}
