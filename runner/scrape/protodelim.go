package scrape

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// maxFamilyBytes bounds one family's message: a length beyond it is a
// corrupt stream, not a family worth allocating for.
const maxFamilyBytes = 256 << 20

// decodeProto reads the delimited protobuf exposition and unmarshals only the
// families named in want. expfmt's decoder unmarshals every family: on the
// apiserver's /metrics that is ~30 ms of kwok-run's CPU and 100,000
// allocations per read even on an idle cluster, all for families dropped at
// once. Peeking at the name costs next to nothing.
func decodeProto(r io.Reader, want []string, keep func(*dto.MetricFamily)) error {
	br := bufio.NewReader(r)
	var msg []byte
	for {
		n, err := binary.ReadUvarint(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n > maxFamilyBytes {
			return fmt.Errorf("metric family of %d bytes", n)
		}
		msg = slices.Grow(msg[:0], int(n))[:n]
		if _, err := io.ReadFull(br, msg); err != nil {
			return err
		}
		if !slices.Contains(want, familyName(msg)) {
			continue
		}
		mf := &dto.MetricFamily{}
		if err := proto.Unmarshal(msg, mf); err != nil {
			return err
		}
		keep(mf)
	}
}

// familyName is the MetricFamily's name field (number 1), which encoders
// write first, so the scan usually stops at once.
func familyName(msg []byte) string {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return ""
		}
		msg = msg[n:]
		if num == 1 && typ == protowire.BytesType {
			name, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return ""
			}
			return string(name)
		}
		if n = protowire.ConsumeFieldValue(num, typ, msg); n < 0 {
			return ""
		}
		msg = msg[n:]
	}
	return ""
}
