package mesh

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
)

// MaxBody is the largest request body a handler accepts.
const MaxBody = 1 << 20

// Error is the JSON body of every error response.
type Error struct {
	Status int    `json:"-"`
	Code   string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail) }

// Errorf returns an *Error with the given status, code and detail.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Decode reads one JSON object from r's body into v, refusing unknown
// fields, keys that match a field only without regard to case, trailing
// data and bodies over MaxBody. Its errors are *Error with status 400.
func Decode(r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	if err != nil {
		return Errorf(http.StatusBadRequest, "bad_json", "%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, "bad_json", "%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Errorf(http.StatusBadRequest, "bad_json", "trailing data after the JSON object")
	}
	if err := checkKeys(json.NewDecoder(bytes.NewReader(b)), reflect.TypeOf(v)); err != nil {
		return Errorf(http.StatusBadRequest, "bad_json", "%v", err)
	}
	return nil
}

// DecodeBytes is Decode for a body already read.
func DecodeBytes(b []byte, v any) error {
	r, _ := http.NewRequest(http.MethodPost, "/", bytes.NewReader(b))
	return Decode(r, v)
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes err as a JSON error body. An *Error keeps its status
// and detail (a service composes those for its caller). A CallError from a
// dependency becomes 503 (dependency unavailable) or 504, and anything else
// a 500, with a detail that names no internal address or error text: those
// are logged by the server, under the request ID the answer carries.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if errors.As(err, &e) {
		WriteJSON(w, e.Status, e)
		return
	}
	var ce *CallError
	if errors.As(err, &ce) {
		status, detail := http.StatusServiceUnavailable, ce.Dep+" is unavailable"
		if ce.Timeout {
			status, detail = http.StatusGatewayTimeout, ce.Dep+" did not answer in time"
		}
		WriteJSON(w, status, &Error{Code: "dependency_unavailable", Detail: detail})
		return
	}
	WriteJSON(w, http.StatusInternalServerError, &Error{Code: "internal", Detail: "internal error"})
}

// Handler is an http handler that returns an error, written by WriteError.
type Handler func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP implements http.Handler.
func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Status >= 500 {
			logger(r.Context()).Warn("request failed", "method", r.Method, "path", r.URL.Path, "request_id", RequestID(r.Context()), "err", err)
		}
		WriteError(w, err)
	}
}
