package funcs

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestUnits(t *testing.T) {
	for _, tc := range []struct {
		fn   string
		arg  string
		want float64
	}{
		{"seconds", "1m30s", 90},
		{"seconds", "250ms", 0.25},
		{"bytes", "2Gi", 2 << 30},
		{"bytes", "1.5G", 1.5e9},
		{"bytes", "500m", 0.5},
		{"bytes", "1024", 1024},
	} {
		got, err := Table()[tc.fn].Call([]cty.Value{cty.StringVal(tc.arg)})
		if err != nil {
			t.Fatalf("%s(%q): %v", tc.fn, tc.arg, err)
		}
		if f, _ := got.AsBigFloat().Float64(); f != tc.want {
			t.Errorf("%s(%q) = %v, want %v", tc.fn, tc.arg, f, tc.want)
		}
	}
	for fn, arg := range map[string]string{"seconds": "30", "bytes": "lots"} {
		if _, err := Table()[fn].Call([]cty.Value{cty.StringVal(arg)}); err == nil {
			t.Errorf("%s(%q) should fail", fn, arg)
		}
	}
}

func TestNothingReadsTheOutsideWorld(t *testing.T) {
	// Same file, same run: functions that read the clock, files or the
	// environment would break that.
	for _, name := range []string{"timestamp", "uuid", "file", "templatefile", "env", "formatdate", "timeadd"} {
		if _, ok := Table()[name]; ok {
			t.Errorf("%s must not be available", name)
		}
	}
}
