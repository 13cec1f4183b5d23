package funcs

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// A scenario is often written by someone else, and a few characters of it
// can ask a function for gigabytes: indent(1e9, "x"), join over a tuple that
// repeats one long string, format("%999999999d", 1). Every function checks,
// before it runs, what its result would weigh, and refuses past MaxWeight.

// MaxWeight bounds the weight of any one function's arguments and result.
// It leaves room for the largest templated manifest (4 MiB).
const MaxWeight = 8 << 20

// MaxExponent bounds a number's decimal exponent, either way: Go formats
// 1e-500000 as a string in minutes, and kwok-run has no use for numbers
// beyond ±1e300 (a float64's range).
const MaxExponent = 1000

// elementWeight is what a value costs beside its text: cty's bookkeeping for
// one element is tens of bytes.
const elementWeight = 16

// Weight estimates the memory v holds, in bytes: its strings' lengths plus
// a fixed cost per value, a number's by its digits. It stops counting once
// past limit, so weighing a huge value costs no more than the limit.
func Weight(v cty.Value, limit int64) int64 {
	var w int64
	weigh(v, limit, &w)
	return w
}

func weigh(v cty.Value, limit int64, w *int64) {
	*w += elementWeight
	if *w > limit {
		return
	}
	v, _ = v.Unmark()
	if v.IsNull() || !v.IsKnown() {
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		*w += int64(len(v.AsString()))
	case ty == cty.Number:
		*w += digits(v)
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType() || ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next() && *w <= limit; {
			k, e := it.Element()
			if ty.IsMapType() || ty.IsObjectType() {
				weigh(k, limit, w)
			}
			weigh(e, limit, w)
		}
	}
}

// digits is how long a number is written out, or more than any limit when
// its exponent is beyond MaxExponent.
func digits(v cty.Value) int64 {
	f := v.AsBigFloat()
	if f.IsInf() || f.Sign() == 0 {
		return 1
	}
	exp10 := int64(math.Abs(float64(f.MantExp(nil)) * math.Log10(2)))
	if exp10 > MaxExponent {
		return math.MaxInt32
	}
	return exp10 + 20
}

// NumberInRange reports whether v, a known number, is within MaxExponent.
func NumberInRange(v cty.Value) bool { return digits(v) < math.MaxInt32 }

// estimator returns what a call would weigh at most, for functions whose
// result can be much larger than their arguments.
type estimator func(args []cty.Value) int64

var estimators = map[string]estimator{
	"format":       estimateFormat,
	"formatlist":   estimateFormatList,
	"indent":       estimateIndent,
	"join":         estimateJoin,
	"replace":      estimateReplace,
	"regexreplace": estimateRegexReplace,
	"regexall":     estimateRegexAll,
	"setproduct":   estimateSetProduct,
	// Output a few times the input: escapes, or one element per character.
	"jsonencode": scaled(6),
	"jsondecode": scaled(2 * elementWeight),
	"csvdecode":  scaled(2 * elementWeight),
	"split":      scaled(2 * elementWeight),
}

// bounded wraps f so that it refuses arguments or a result heavier than
// MaxWeight, estimating the result before the call where an estimator
// knows how. Its parameters take any type and f converts them, so that a
// number is weighed before it is turned into a string.
func bounded(name string, f function.Function) function.Function {
	loosen := func(p function.Parameter) function.Parameter {
		p.Type = cty.DynamicPseudoType
		p.AllowDynamicType = true
		return p
	}
	params := make([]function.Parameter, len(f.Params()))
	for i, p := range f.Params() {
		params[i] = loosen(p)
	}
	var varParam *function.Parameter
	if vp := f.VarParam(); vp != nil {
		p := loosen(*vp)
		varParam = &p
	}
	estimate := estimators[name]
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      params,
		VarParam:    varParam,
		Type:        f.ReturnTypeForValues,
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			var in int64
			for _, a := range args {
				in += Weight(a, MaxWeight)
			}
			if in > MaxWeight {
				return cty.DynamicVal, tooHeavy("its arguments are")
			}
			if estimate != nil {
				if conv, ok := converted(f, args); ok {
					if w := estimate(conv); w > MaxWeight {
						return cty.DynamicVal, tooHeavy("its result would be")
					}
				}
			}
			out, err := f.Call(args)
			if err != nil {
				return out, err
			}
			if Weight(out, MaxWeight) > MaxWeight {
				return cty.DynamicVal, tooHeavy("its result is")
			}
			return out, nil
		},
	})
}

func tooHeavy(what string) error {
	return fmt.Errorf("%s larger than kwok-run allows (%d MiB, or a number beyond ±1e%d)", what, MaxWeight>>20, MaxExponent)
}

// converted returns args as f's parameters would take them, unmarked, or
// false when one is unknown or does not convert: f reports that itself.
func converted(f function.Function, args []cty.Value) ([]cty.Value, bool) {
	out := make([]cty.Value, len(args))
	for i, a := range args {
		a, _ = a.UnmarkDeep()
		if !a.IsWhollyKnown() || a.IsNull() {
			return nil, false
		}
		p := f.VarParam()
		if i < len(f.Params()) {
			p = &f.Params()[i]
		}
		if p != nil {
			var err error
			if a, err = convert.Convert(a, p.Type); err != nil {
				return nil, false
			}
		}
		out[i] = a
	}
	return out, true
}

func scaled(factor int64) estimator {
	return func(args []cty.Value) int64 {
		var w int64
		for _, a := range args {
			w += Weight(a, MaxWeight)
		}
		return w * factor
	}
}

// str returns v when it is a string, else "".
func str(v cty.Value) string {
	if v.Type() == cty.String {
		return v.AsString()
	}
	return ""
}

// length is the number of elements of a collection, or 1 for anything else.
func length(v cty.Value) int64 {
	if !v.CanIterateElements() {
		return 1
	}
	return int64(v.LengthInt())
}

// formatWidth is the most padding a format string's verbs can add: every
// number in it counted as a width, which over-counts harmlessly.
func formatWidth(format string) int64 {
	var w, n int64
	for i := 0; i <= len(format); i++ {
		if i < len(format) && format[i] >= '0' && format[i] <= '9' {
			n = n*10 + int64(format[i]-'0')
			if n > MaxWeight {
				return math.MaxInt32
			}
			continue
		}
		w, n = w+n, 0
	}
	return w
}

func estimateFormat(args []cty.Value) int64 {
	return scaled(1)(args) + formatWidth(str(args[0]))
}

// formatlist repeats its format, and every argument that is not a list, once
// per element of the lists.
func estimateFormatList(args []cty.Value) int64 {
	n, perItem, lists := int64(1), int64(len(str(args[0])))+formatWidth(str(args[0])), int64(0)
	for _, a := range args[1:] {
		ty := a.Type()
		if ty.IsListType() || ty.IsTupleType() {
			n = max(n, length(a))
			lists += Weight(a, MaxWeight)
		} else {
			perItem += Weight(a, MaxWeight)
		}
	}
	return n*perItem + lists
}

// indent adds its spaces to every line after the first.
func estimateIndent(args []cty.Value) int64 {
	spaces, _ := args[0].AsBigFloat().Int64()
	s := str(args[1])
	if spaces > MaxWeight {
		return math.MaxInt32
	}
	return int64(len(s)) + spaces*int64(strings.Count(s, "\n")+1)
}

// join puts its separator between all the elements of all its lists.
func estimateJoin(args []cty.Value) int64 {
	var n, w int64
	for _, l := range args[1:] {
		n += length(l)
		w += Weight(l, MaxWeight)
	}
	return w + n*int64(len(str(args[0])))
}

// replace puts its replacement at every match; an empty substring matches
// between every two characters.
func estimateReplace(args []cty.Value) int64 {
	s, sub, repl := str(args[0]), str(args[1]), str(args[2])
	n := int64(utf8.RuneCountInString(s) + 1)
	if sub != "" {
		n = int64(strings.Count(s, sub))
	}
	return int64(len(s)) + n*int64(len(repl))
}

// regexreplace puts its replacement at every match, and a replacement that
// names groups ($1) can copy the whole string each time.
func estimateRegexReplace(args []cty.Value) int64 {
	s, repl := str(args[0]), str(args[2])
	re, err := regexp.Compile(str(args[1]))
	if err != nil {
		return 0 // the function reports the pattern
	}
	n := int64(len(re.FindAllStringIndex(s, -1)))
	per := int64(len(repl))
	if strings.Contains(repl, "$") {
		per += int64(len(s)) * int64(strings.Count(repl, "$"))
	}
	return int64(len(s)) + n*per
}

// regexall returns every match, with all its groups.
func estimateRegexAll(args []cty.Value) int64 {
	re, err := regexp.Compile(str(args[0]))
	if err != nil {
		return 0
	}
	s := str(args[1])
	n := int64(len(re.FindAllStringIndex(s, -1)))
	return n*int64(re.NumSubexp()+1)*elementWeight + int64(len(s))*int64(re.NumSubexp()+1)
}

// setproduct has one element per combination, each as long as the number
// of sets.
func estimateSetProduct(args []cty.Value) int64 {
	n := int64(1)
	for _, a := range args {
		n *= length(a)
		if n > MaxWeight {
			return math.MaxInt32
		}
	}
	return n * int64(len(args)+1) * elementWeight
}
