package codec

import (
	"strconv"
	"strings"
)

// RequestError is a refused HTTP API request: a 4xx status and the plaintext of deepstream.md §11.1. The response body
// is Body(), served as text/plain.
type RequestError struct {
	Status int
	Text   string
}

// Error returns the status and text, prefixed with the package name.
func (e *RequestError) Error() string {
	return "codec: " + strconv.Itoa(e.Status) + " " + e.Text
}

// Body returns the plaintext response body: Text followed by "\r\n\r\n", as deepstream writes it.
func (e *RequestError) Body() []byte {
	b := make([]byte, 0, len(e.Text)+4)
	b = append(b, e.Text...)
	return append(b, "\r\n\r\n"...)
}

// The HTTP API's fixed 4xx answers (deepstream.md §11.1), one table for the HTTP layer. They are shared values: never
// modify them. Per-command failures of POST /api are made by ParseBatch ("Failed to parse JIF object at index N.").
var (
	// ErrBodyMissing: /api, "body" absent or falsy, or an empty request body.
	ErrBodyMissing = &RequestError{400, `Invalid message: the "body" parameter must exist.`}
	// ErrBodyNotArray: /api, "body" not an array, or [].
	ErrBodyNotArray = &RequestError{400, `Invalid message: the "body" parameter must be a non-empty array of Objects.`}
	// ErrTokenInvalid: /api, "token" not a string, or "".
	ErrTokenInvalid = &RequestError{400, `Invalid message: the "token" parameter must be a non-empty string`}
	// ErrAuthDataInvalid: /api, "authData" not a JSON object.
	ErrAuthDataInvalid = &RequestError{400, `Invalid message: the "authData" parameter must be an object`}
	// ErrTokenAndAuthData: /api, both "token" and "authData" [Plexus].
	ErrTokenAndAuthData = &RequestError{400, `Invalid message: use either the "token" or the "authData" parameter, not both.`}
	// ErrInvalidJSON: the request body is not JSON (or not UTF-8).
	ErrInvalidJSON = &RequestError{400, `Failed to parse body of request: invalid JSON`}
	// ErrAuthInvalid: /api/auth, body empty or not an object, or ?apiKey= differs from the body's apiKey.
	ErrAuthInvalid = &RequestError{400, `Invalid authentication data.`}
	// ErrAuthRefused: /api/auth, credentials refused, unknown key, no app.
	ErrAuthRefused = &RequestError{401, `Invalid authentication data.`}
	// ErrUnauthorized: /api, credentials refused, a token of another app, unknown key, no app.
	ErrUnauthorized = &RequestError{401, `Unsuccessful authentication attempt.`}
	// ErrAppDisabled: the app is disabled [Plexus].
	ErrAppDisabled = &RequestError{403, `App disabled.`}
	// ErrEndpointNotFound: another path under /api/.
	ErrEndpointNotFound = &RequestError{404, `Endpoint not found.`}
	// ErrMethodNotAllowed: another method on /api or /api/auth; send the Allow header with it.
	ErrMethodNotAllowed = &RequestError{405, `Unsupported method. Supported methods: POST, OPTIONS`}
	// ErrTooLarge: a body over max_message_bytes.
	ErrTooLarge = &RequestError{413, `Failed to parse body of request: request entity too large`}
	// ErrUnsupportedMediaType: a Content-Type other than application/json, or none.
	ErrUnsupportedMediaType = &RequestError{415, `Invalid "Content-Type" header. Supported media types: "application/json"`}
)

// AllowHeader is the Allow header value sent with ErrMethodNotAllowed.
const AllowHeader = "POST, OPTIONS"

// DefaultMaxNameBytes is max_name_bytes' default (deepstream.md §3, §6.4).
const DefaultMaxNameBytes = 1024

// CheckContentType returns nil when ct is application/json, with any parameters and in any letter case, else
// ErrUnsupportedMediaType (also for an empty ct: no Content-Type header).
func CheckContentType(ct string) *RequestError {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if strings.EqualFold(strings.Trim(ct, " \t"), "application/json") {
		return nil
	}
	return ErrUnsupportedMediaType
}

// CheckBodySize returns ErrTooLarge when a body of n bytes is over maxBytes (max_message_bytes), else nil.
func CheckBodySize(n, maxBytes int) *RequestError {
	if n > maxBytes {
		return ErrTooLarge
	}
	return nil
}
