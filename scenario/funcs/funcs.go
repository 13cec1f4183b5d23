// Package funcs holds the functions a scenario's expressions can call: go-cty's
// standard library (the same names Terraform users know), try/can, and two unit
// helpers for assertions. Nothing here reads the clock, the environment or
// files, so a scenario evaluates the same way everywhere.
package funcs

import (
	"fmt"
	"math/big"
	"time"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Table returns a fresh map of every function by name, each bounded in what
// it may allocate (bounds.go).
func Table() map[string]function.Function {
	t := map[string]function.Function{
		// numbers
		"abs":      stdlib.AbsoluteFunc,
		"ceil":     stdlib.CeilFunc,
		"floor":    stdlib.FloorFunc,
		"log":      stdlib.LogFunc,
		"max":      stdlib.MaxFunc,
		"min":      stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc,
		"pow":      stdlib.PowFunc,
		"signum":   stdlib.SignumFunc,
		// strings
		"chomp":        stdlib.ChompFunc,
		"format":       stdlib.FormatFunc,
		"formatlist":   stdlib.FormatListFunc,
		"indent":       stdlib.IndentFunc,
		"join":         stdlib.JoinFunc,
		"lower":        stdlib.LowerFunc,
		"regex":        stdlib.RegexFunc,
		"regexall":     stdlib.RegexAllFunc,
		"regexreplace": stdlib.RegexReplaceFunc,
		"replace":      stdlib.ReplaceFunc,
		"split":        stdlib.SplitFunc,
		"strlen":       stdlib.StrlenFunc,
		"strrev":       stdlib.ReverseFunc,
		"substr":       stdlib.SubstrFunc,
		"title":        stdlib.TitleFunc,
		"trim":         stdlib.TrimFunc,
		"trimprefix":   stdlib.TrimPrefixFunc,
		"trimspace":    stdlib.TrimSpaceFunc,
		"trimsuffix":   stdlib.TrimSuffixFunc,
		"upper":        stdlib.UpperFunc,
		// collections
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"lookup":          stdlib.LookupFunc,
		"merge":           stdlib.MergeFunc,
		"range":           stdlib.RangeFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,
		// encoding
		"csvdecode":  stdlib.CSVDecodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc,
		// type conversion
		"tobool":   stdlib.MakeToFunc(cty.Bool),
		"tolist":   stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":    stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber": stdlib.MakeToFunc(cty.Number),
		"toset":    stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring": stdlib.MakeToFunc(cty.String),
		// units, for comparing metrics (seconds, bytes) with what people write
		"seconds": SecondsFunc,
		"bytes":   BytesFunc,
	}
	for name, f := range t {
		t[name] = bounded(name, f)
	}
	// try and can take expressions, not values: what those build is bounded
	// where it is built.
	t["can"] = tryfunc.CanFunc
	t["try"] = tryfunc.TryFunc
	return t
}

// SecondsFunc turns a duration string into seconds: seconds("1m30s") is 90.
var SecondsFunc = function.New(&function.Spec{
	Description: "Converts a duration such as \"500ms\" or \"1m30s\" to a number of seconds.",
	Params:      []function.Parameter{{Name: "duration", Type: cty.String}},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		d, err := time.ParseDuration(args[0].AsString())
		if err != nil {
			return cty.UnknownVal(cty.Number), fmt.Errorf("%q is not a duration: write a number and a unit (ms, s, m, h), e.g. \"30s\"", args[0].AsString())
		}
		return cty.NumberFloatVal(d.Seconds()), nil
	},
})

// BytesFunc turns a Kubernetes quantity into a number: bytes("2Gi") is
// 2147483648.
var BytesFunc = function.New(&function.Spec{
	Description: "Converts a Kubernetes quantity such as \"512Mi\" or \"2G\" to a number of bytes.",
	Params:      []function.Parameter{{Name: "quantity", Type: cty.String}},
	Type:        function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		q, err := resource.ParseQuantity(args[0].AsString())
		if err != nil {
			return cty.UnknownVal(cty.Number), fmt.Errorf("%q is not a quantity: write a number with an optional suffix (Ki, Mi, Gi, k, M, G), e.g. \"512Mi\"", args[0].AsString())
		}
		f, _ := new(big.Float).SetString(q.AsDec().String())
		return cty.NumberVal(f), nil
	},
})
