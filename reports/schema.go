package reports

import (
	"bytes"
	_ "embed" // the schema travels inside the binary
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/faultline/faultline/groundwork/result"
)

//go:embed results.schema.json
var schemaJSON []byte

// schemaName is the schema's file name, as errors cite it.
const schemaName = "results.schema.json"

// MaxProblems bounds the problems a SchemaError's message lists.
const MaxProblems = 5

var schema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaName, doc); err != nil {
		return nil, err
	}
	return c.Compile(schemaName)
})

// SchemaError is a results.json that does not match results.schema.json.
type SchemaError struct {
	File string
	// Problems are "<JSON pointer>: <what is wrong>", sorted by pointer.
	Problems []string
}

// Error names the file and its first MaxProblems problems.
func (e *SchemaError) Error() string {
	shown := e.Problems[:min(len(e.Problems), MaxProblems)]
	msg := fmt.Sprintf("%s does not match %s: %s", e.File, schemaName, strings.Join(shown, "; "))
	if n := len(e.Problems) - len(shown); n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// ReadResults reads dir/results.json, checks it against results.schema.json
// and decodes it. A document that does not match gives a *SchemaError.
func ReadResults(dir string) (*result.Run, error) {
	file := filepath.Join(dir, "results.json")
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if err := Validate(file, b); err != nil {
		return nil, err
	}
	var r result.Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode %s: %w", file, err)
	}
	return &r, nil
}

// Validate checks the results.json document b, read from file, against
// results.schema.json.
func Validate(file string, b []byte) error {
	sch, err := schema()
	if err != nil {
		return fmt.Errorf("compile %s: %w", schemaName, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("decode %s: %w", file, err)
	}
	var ve *jsonschema.ValidationError
	if err := sch.Validate(doc); errors.As(err, &ve) {
		e := &SchemaError{File: file}
		for _, leaf := range leaves(ve) {
			msg := "invalid"
			if out := leaf.BasicOutput(); out.Error != nil {
				msg = out.Error.String()
			}
			e.Problems = append(e.Problems, "/"+strings.Join(leaf.InstanceLocation, "/")+": "+msg)
		}
		slices.Sort(e.Problems)
		e.Problems = slices.Compact(e.Problems)
		return e
	} else if err != nil {
		return fmt.Errorf("validate %s: %w", file, err)
	}
	return nil
}

// leaves returns the errors under e that have no causes: the problems
// themselves, not the schema branches that led to them.
func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}
