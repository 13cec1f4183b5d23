package scrape

import (
	"bytes"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func TestDecodeProto(t *testing.T) {
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for _, mf := range apiserverFamilies() {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	keep := func(mf *dto.MetricFamily) { got = append(got, mf.GetName()) }
	if err := decodeProto(bytes.NewReader(buf.Bytes()), []string{rssFamily, RequestSLIDuration}, keep); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != rssFamily || got[1] != RequestSLIDuration {
		t.Errorf("kept %v, want %s and %s", got, rssFamily, RequestSLIDuration)
	}
	// Cut inside a family: an error, not a silently short reading.
	if err := decodeProto(bytes.NewReader(buf.Bytes()[:buf.Len()-3]), []string{rssFamily}, keep); err == nil {
		t.Error("truncated stream decoded without error")
	}
}
