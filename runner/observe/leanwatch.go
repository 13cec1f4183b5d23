package observe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"google.golang.org/protobuf/encoding/protowire"
)

// The pods and nodes watches are most of what measuring costs: thousands of
// events, each a whole object with its managed fields (a node's status is
// kilobytes). WatchLean reads the protobuf stream itself and decodes only
// what the recorder and the waits read (names, labels, times; a pod's node,
// phase and PodScheduled and Ready conditions; a node's Ready condition),
// skipping the rest by length, into an object that holds nothing else: a
// quarter of the CPU per event of client-go's full decoding
// (BenchmarkPodEventDecode).

// streamAccept asks for the protobuf watch stream: length-prefixed frames,
// each a WatchEvent whose object is an encoded object.
const streamAccept = "application/vnd.kubernetes.protobuf;stream=watch"

// protobufMagic starts every encoded object (runtime.Unknown follows).
var protobufMagic = []byte{0x6b, 0x38, 0x73, 0x00}

// WatchLean returns a watch function for pods or nodes (resource), across
// namespaces, that decodes lean objects. c is the core/v1 REST client.
func WatchLean(c rest.Interface, resource string) func(context.Context, metav1.ListOptions) (watch.Interface, error) {
	return func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		opts.Watch = true
		body, err := c.Get().Resource(resource).VersionedParams(&opts, scheme.ParameterCodec).
			SetHeader("Accept", streamAccept).Stream(ctx)
		if err != nil {
			return nil, err
		}
		w := &leanStream{body: body, out: make(chan watch.Event), stop: make(chan struct{})}
		go w.read()
		return w, nil
	}
}

type leanStream struct {
	body io.ReadCloser
	out  chan watch.Event
	once sync.Once
	stop chan struct{}
}

func (w *leanStream) ResultChan() <-chan watch.Event { return w.out }

func (w *leanStream) Stop() {
	w.once.Do(func() {
		close(w.stop)
		w.body.Close()
	})
}

// read decodes frames until the stream ends; a frame it cannot decode ends
// the watch with an error event, as client-go's decoder does.
func (w *leanStream) read() {
	defer close(w.out)
	defer w.body.Close()
	r := bufio.NewReaderSize(w.body, 64<<10)
	var frame []byte
	var size [4]byte
	for {
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(size[:])
		if cap(frame) < int(n) {
			frame = make([]byte, n)
		}
		frame = frame[:n]
		if _, err := io.ReadFull(r, frame); err != nil {
			return
		}
		ev, err := decodeWatchEvent(frame)
		if err != nil {
			ev = watch.Event{Type: watch.Error, Object: &metav1.Status{
				Status: metav1.StatusFailure, Code: 500, Message: "decode a watch event: " + err.Error(),
			}}
		}
		select {
		case w.out <- ev:
		case <-w.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

var errTruncated = errors.New("truncated protobuf")

// fields walks a protobuf message, calling f with each field's number and
// its value: the bytes of a length-delimited field, or the varint.
func fields(b []byte, f func(num protowire.Number, data []byte, v uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			data, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errTruncated
			}
			if err := f(num, data, 0); err != nil {
				return err
			}
			b = b[n:]
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errTruncated
			}
			if err := f(num, nil, v); err != nil {
				return err
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return errTruncated
			}
			b = b[n:]
		}
	}
	return nil
}

// decodeWatchEvent reads a metav1.WatchEvent: its type, and its object,
// a runtime.Unknown behind the protobuf magic.
func decodeWatchEvent(b []byte) (watch.Event, error) {
	var ev watch.Event
	var raw []byte
	err := fields(b, func(num protowire.Number, data []byte, _ uint64) error {
		switch num {
		case 1:
			ev.Type = watch.EventType(data)
		case 2: // RawExtension
			return fields(data, func(num protowire.Number, data []byte, _ uint64) error {
				if num == 1 {
					raw = data
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return ev, err
	}
	if !bytes.HasPrefix(raw, protobufMagic) {
		return ev, errors.New("the event's object is not protobuf")
	}
	var kind string
	var obj []byte
	err = fields(raw[len(protobufMagic):], func(num protowire.Number, data []byte, _ uint64) error {
		switch num {
		case 1: // TypeMeta
			return fields(data, func(num protowire.Number, data []byte, _ uint64) error {
				if num == 2 {
					kind = string(data)
				}
				return nil
			})
		case 2:
			obj = data
		}
		return nil
	})
	if err != nil {
		return ev, err
	}
	switch kind {
	case "Pod":
		pod := &corev1.Pod{}
		ev.Object = pod
		return ev, decodePod(obj, pod)
	case "Node":
		node := &corev1.Node{}
		ev.Object = node
		return ev, decodeNode(obj, node)
	case "Status":
		st := &metav1.Status{}
		ev.Object = st
		return ev, st.Unmarshal(obj)
	}
	return ev, fmt.Errorf("unexpected kind %q in a lean watch", kind)
}

func decodeNode(b []byte, n *corev1.Node) error {
	return fields(b, func(num protowire.Number, data []byte, _ uint64) error {
		switch num {
		case 1:
			return decodeMeta(data, &n.ObjectMeta)
		case 3: // NodeStatus
			return fields(data, func(num protowire.Number, data []byte, _ uint64) error {
				if num != 4 {
					return nil
				}
				c, err := decodeCondition(data)
				if err == nil && c.kind == string(corev1.NodeReady) {
					n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{
						Type: corev1.NodeReady, Status: c.status, LastTransitionTime: c.transition,
					})
				}
				return err
			})
		}
		return nil
	})
}

func decodePod(b []byte, p *corev1.Pod) error {
	return fields(b, func(num protowire.Number, data []byte, _ uint64) error {
		switch num {
		case 1:
			return decodeMeta(data, &p.ObjectMeta)
		case 2: // PodSpec
			return fields(data, func(num protowire.Number, data []byte, _ uint64) error {
				if num == 10 {
					p.Spec.NodeName = string(data)
				}
				return nil
			})
		case 3: // PodStatus
			return fields(data, func(num protowire.Number, data []byte, _ uint64) error {
				switch num {
				case 1:
					p.Status.Phase = corev1.PodPhase(data)
				case 2:
					c, err := decodeCondition(data)
					if err == nil && (c.kind == string(corev1.PodScheduled) || c.kind == string(corev1.PodReady)) {
						p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
							Type: corev1.PodConditionType(c.kind), Status: c.status, LastTransitionTime: c.transition,
						})
					}
					return err
				}
				return nil
			})
		}
		return nil
	})
}

// condition is what the recorder reads of a pod's or a node's condition;
// both kinds number these fields alike.
type condition struct {
	kind       string
	status     corev1.ConditionStatus
	transition metav1.Time
}

func decodeCondition(b []byte) (condition, error) {
	var c condition
	err := fields(b, func(num protowire.Number, data []byte, _ uint64) error {
		switch num {
		case 1:
			c.kind = string(data)
		case 2:
			c.status = corev1.ConditionStatus(data)
		case 4:
			t, err := decodeTime(data)
			c.transition = t
			return err
		}
		return nil
	})
	return c, err
}

func decodeMeta(b []byte, m *metav1.ObjectMeta) error {
	return fields(b, func(num protowire.Number, data []byte, v uint64) error {
		switch num {
		case 1:
			m.Name = string(data)
		case 3:
			m.Namespace = string(data)
		case 5:
			m.UID = types.UID(data)
		case 6:
			m.ResourceVersion = string(data)
		case 7:
			m.Generation = int64(v)
		case 8:
			t, err := decodeTime(data)
			m.CreationTimestamp = t
			return err
		case 9:
			t, err := decodeTime(data)
			m.DeletionTimestamp = &t
			return err
		case 11:
			var k, val string
			err := fields(data, func(num protowire.Number, data []byte, _ uint64) error {
				if num == 1 {
					k = string(data)
				} else if num == 2 {
					val = string(data)
				}
				return nil
			})
			if m.Labels == nil {
				m.Labels = map[string]string{}
			}
			m.Labels[k] = val
			return err
		}
		return nil
	})
}

func decodeTime(b []byte) (metav1.Time, error) {
	var sec, nsec int64
	err := fields(b, func(num protowire.Number, _ []byte, v uint64) error {
		switch num {
		case 1:
			sec = int64(v)
		case 2:
			nsec = int64(int32(v))
		}
		return nil
	})
	return metav1.Unix(sec, nsec), err
}
