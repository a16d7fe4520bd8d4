package gateway

import (
	"crypto/rand"
	"encoding/hex"

	json "github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	"github.com/plexushq/plexus/gateway/codec"
	pb "github.com/plexushq/plexus/proto/plexus/v1"
)

// reasonStatus is the single reason→HTTP status table for JSON error bodies
// (style.md §5.5). A test walks every ErrorReason.
var reasonStatus = map[pb.ErrorReason]int{
	pb.ErrorReason_ERROR_REASON_UNSPECIFIED:          fasthttp.StatusInternalServerError,
	pb.ErrorReason_ERROR_REASON_INVALID_ARGUMENT:     fasthttp.StatusBadRequest,
	pb.ErrorReason_ERROR_REASON_NOT_FOUND:            fasthttp.StatusNotFound,
	pb.ErrorReason_ERROR_REASON_ALREADY_EXISTS:       fasthttp.StatusConflict,
	pb.ErrorReason_ERROR_REASON_UNAVAILABLE:          fasthttp.StatusServiceUnavailable,
	pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED:    fasthttp.StatusGatewayTimeout,
	pb.ErrorReason_ERROR_REASON_INTERNAL:             fasthttp.StatusInternalServerError,
	pb.ErrorReason_ERROR_REASON_NOT_OWNER:            fasthttp.StatusServiceUnavailable,
	pb.ErrorReason_ERROR_REASON_STALE_ACTIVATION:     fasthttp.StatusServiceUnavailable,
	pb.ErrorReason_ERROR_REASON_VERSION_EXISTS:       fasthttp.StatusConflict,
	pb.ErrorReason_ERROR_REASON_INVALID_VERSION:      fasthttp.StatusConflict,
	pb.ErrorReason_ERROR_REASON_INVALID_MESSAGE_DATA: fasthttp.StatusBadRequest,
	pb.ErrorReason_ERROR_REASON_RECORD_UPDATE_ERROR:  fasthttp.StatusUnprocessableEntity,
	pb.ErrorReason_ERROR_REASON_RECORD_DELETE_ERROR:  fasthttp.StatusInternalServerError,
	pb.ErrorReason_ERROR_REASON_MESSAGE_DENIED:       fasthttp.StatusForbidden,
	pb.ErrorReason_ERROR_REASON_STORAGE_UNAVAILABLE:  fasthttp.StatusServiceUnavailable,
	pb.ErrorReason_ERROR_REASON_NO_RPC_PROVIDER:      fasthttp.StatusNotFound,
	pb.ErrorReason_ERROR_REASON_NOT_LEADER:           fasthttp.StatusServiceUnavailable,
	pb.ErrorReason_ERROR_REASON_UNAUTHENTICATED:      fasthttp.StatusUnauthorized,
	pb.ErrorReason_ERROR_REASON_PERMISSION_DENIED:    fasthttp.StatusForbidden,
	pb.ErrorReason_ERROR_REASON_SHUTTING_DOWN:        fasthttp.StatusServiceUnavailable,
}

// temporary reasons are worth retrying.
func temporary(r pb.ErrorReason) bool {
	switch r {
	case pb.ErrorReason_ERROR_REASON_UNAVAILABLE, pb.ErrorReason_ERROR_REASON_DEADLINE_EXCEEDED,
		pb.ErrorReason_ERROR_REASON_NOT_OWNER, pb.ErrorReason_ERROR_REASON_STALE_ACTIVATION,
		pb.ErrorReason_ERROR_REASON_STORAGE_UNAVAILABLE, pb.ErrorReason_ERROR_REASON_NOT_LEADER,
		pb.ErrorReason_ERROR_REASON_SHUTTING_DOWN:
		return true
	}
	return false
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Reason    string `json:"reason"`
	Code      int    `json:"code"`
	Message   string `json:"message"`
	Temporary bool   `json:"temporary"`
	RequestID string `json:"request_id,omitempty"`
}

// writeJSONError writes the generic JSON error body. status 0 takes the
// table's status for reason.
func writeJSONError(ctx *fasthttp.RequestCtx, status int, reason pb.ErrorReason, msg, requestID string) {
	if status == 0 {
		status = reasonStatus[reason]
		if status == 0 {
			status = fasthttp.StatusInternalServerError
		}
	}
	b, _ := json.Marshal(errorBody{Error: errorDetail{Reason: reason.String(), Code: status, Message: msg, Temporary: temporary(reason), RequestID: requestID}})
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json; charset=utf-8")
	ctx.SetBody(b)
}

// newRequestID returns a random id that ties a 500 answer to its log line.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func notImplemented(ctx *fasthttp.RequestCtx, what string) {
	writeJSONError(ctx, fasthttp.StatusNotImplemented, pb.ErrorReason_ERROR_REASON_UNSPECIFIED, what+" is not implemented yet", "")
}

// writePlain writes a deepstream HTTP API plaintext error (deepstream.md §11.1).
func writePlain(ctx *fasthttp.RequestCtx, e *codec.RequestError) {
	ctx.SetStatusCode(e.Status)
	ctx.SetContentType("text/plain; charset=utf-8")
	if e.Status == fasthttp.StatusMethodNotAllowed {
		ctx.Response.Header.Set("Allow", codec.AllowHeader)
	}
	ctx.SetBody(e.Body())
}
