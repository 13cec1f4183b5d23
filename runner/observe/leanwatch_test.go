package observe

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/util/framer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
)

// realPod is a pod as KWOK leaves it Running: a container, managed fields
// from three writers, annotations and owner references that the lean
// decoder must skip.
func realPod() *corev1.Pod {
	now := metav1.NewTime(time.Unix(1764300000, 123000000))
	deleted := metav1.NewTime(time.Unix(1764300009, 0))
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-0-67565fd8d4-cx4v2", Namespace: "quickstart", UID: "3f1e2d4c-aaaa-bbbb-cccc-0123456789ab",
			ResourceVersion: "48213", Generation: 1, CreationTimestamp: now, DeletionTimestamp: &deleted,
			Labels:          map[string]string{"kwok-run/wave": "web", "app": "web"},
			Annotations:     map[string]string{"note": strings.Repeat("x", 200)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-0-67565fd8d4", UID: "u", Controller: ptr.To(true)}},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{}}}`)},
				{Manager: "kube-scheduler", Operation: metav1.ManagedFieldsOperationUpdate, FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:status":{"f:conditions":{}}}`)},
				{Manager: "kwok", Operation: metav1.ManagedFieldsOperationUpdate, FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:status":{"f:phase":{},"f:podIP":{}}}`)},
			},
		},
		Spec: corev1.PodSpec{
			NodeName: "workers-1",
			Containers: []corev1.Container{{Name: "c", Image: "fake", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
			}}},
			Tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.0.0.1", StartTime: &now,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Unix(1764300002, 0))},
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Unix(1764300001, 0))},
			},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Ready: true, Image: "fake"}},
		},
	}
}

// frames encodes events the way the apiserver writes a protobuf watch.
func frames(t testing.TB, events ...watch.Event) []byte {
	t.Helper()
	enc := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	var out bytes.Buffer
	for _, ev := range events {
		var obj bytes.Buffer
		if err := enc.Encode(ev.Object, &obj); err != nil {
			t.Fatal(err)
		}
		we := metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: obj.Bytes()}}
		raw, err := we.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		binary.Write(&out, binary.BigEndian, uint32(len(raw)))
		out.Write(raw)
	}
	return out.Bytes()
}

func TestLeanPodDecodingKeepsWhatIsRead(t *testing.T) {
	want := realPod()
	status := &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired}
	stream := &leanStream{body: io.NopCloser(bytes.NewReader(frames(t,
		watch.Event{Type: watch.Modified, Object: want},
		watch.Event{Type: watch.Error, Object: status},
	))), out: make(chan watch.Event), stop: make(chan struct{})}
	go stream.read()
	ev := <-stream.ResultChan()
	got, ok := ev.Object.(*corev1.Pod)
	if ev.Type != watch.Modified || !ok {
		t.Fatalf("got %v", ev)
	}
	if got.Name != want.Name || got.Namespace != want.Namespace || got.UID != want.UID || got.ResourceVersion != want.ResourceVersion ||
		got.Generation != 1 || got.CreationTimestamp.Unix() != want.CreationTimestamp.Unix() || !got.DeletionTimestamp.Equal(want.DeletionTimestamp) ||
		len(got.Labels) != 2 || got.Labels["kwok-run/wave"] != "web" {
		t.Errorf("metadata: %+v", got.ObjectMeta)
	}
	if got.Spec.NodeName != "workers-1" || got.Status.Phase != corev1.PodRunning {
		t.Errorf("node %q phase %q", got.Spec.NodeName, got.Status.Phase)
	}
	if len(got.Status.Conditions) != 2 || got.Status.Conditions[0].Type != corev1.PodReady ||
		got.Status.Conditions[0].LastTransitionTime.Unix() != 1764300002 || got.Status.Conditions[1].Type != corev1.PodScheduled {
		t.Errorf("conditions %+v, want Ready and PodScheduled with their times", got.Status.Conditions)
	}
	if got.Annotations != nil || got.ManagedFields != nil || got.Spec.Containers != nil || got.OwnerReferences != nil {
		t.Error("the lean pod keeps fields nothing reads")
	}
	ev = <-stream.ResultChan()
	if st, ok := ev.Object.(*metav1.Status); ev.Type != watch.Error || !ok || st.Code != 410 {
		t.Errorf("got %v, want the 410 status", ev)
	}
	if _, open := <-stream.ResultChan(); open {
		t.Error("the watch did not end with its stream")
	}
}

func TestLeanPodDecodingRejectsGarbage(t *testing.T) {
	frame := []byte{0, 0, 0, 3, 0x12, 0x05, 0x01}
	stream := &leanStream{body: io.NopCloser(bytes.NewReader(frame)), out: make(chan watch.Event), stop: make(chan struct{})}
	go stream.read()
	if ev := <-stream.ResultChan(); ev.Type != watch.Error {
		t.Errorf("a truncated frame gave %v, want an error event", ev)
	}
}

// BenchmarkPodEventDecode compares the lean decoding of a Running pod's
// event with client-go's full decoding of the same bytes.
func BenchmarkPodEventDecode(b *testing.B) {
	data := frames(b, watch.Event{Type: watch.Modified, Object: realPod()})
	b.Run("lean", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeWatchEvent(data[4:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client-go", func(b *testing.B) {
		info, _ := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), "application/vnd.kubernetes.protobuf")
		for b.Loop() {
			dec := streaming.NewDecoder(framer.NewLengthDelimitedFrameReader(io.NopCloser(bytes.NewReader(data))), info.StreamSerializer.Serializer)
			var ev metav1.WatchEvent
			if _, _, err := dec.Decode(nil, &ev); err != nil {
				b.Fatal(err)
			}
			if _, err := runtime.Decode(scheme.Codecs.UniversalDeserializer(), ev.Object.Raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestLeanNodeDecodingKeepsWhatIsRead(t *testing.T) {
	want := &corev1.Node{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "workers-7", UID: "9a8b7c6d-0000-1111-2222-333344445555", ResourceVersion: "901",
			CreationTimestamp: metav1.Unix(1764300000, 0),
			Labels:            map[string]string{"kwok-run/pool": "workers", "type": "kwok"},
			Annotations:       map[string]string{"kwok.x-k8s.io/node": "fake"},
			ManagedFields:     []metav1.ManagedFieldsEntry{{Manager: "kwok", FieldsV1: metav1.NewFieldsV1(`{"f:status":{}}`)}},
		},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourcePods: resource.MustParse("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32")},
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastTransitionTime: metav1.Unix(1764300001, 0)},
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Unix(1764300099, 0), LastTransitionTime: metav1.Unix(1764300002, 0)},
			},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.7"}},
			NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "fake", OperatingSystem: "linux"},
		},
	}
	stream := &leanStream{body: io.NopCloser(bytes.NewReader(frames(t, watch.Event{Type: watch.Added, Object: want}))),
		out: make(chan watch.Event), stop: make(chan struct{})}
	go stream.read()
	ev := <-stream.ResultChan()
	got, ok := ev.Object.(*corev1.Node)
	if ev.Type != watch.Added || !ok {
		t.Fatalf("got %v", ev)
	}
	if got.Name != want.Name || got.UID != want.UID || got.ResourceVersion != "901" || got.CreationTimestamp.Unix() != 1764300000 || got.Labels["kwok-run/pool"] != "workers" {
		t.Errorf("metadata: %+v", got.ObjectMeta)
	}
	if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Type != corev1.NodeReady ||
		got.Status.Conditions[0].Status != corev1.ConditionTrue || got.Status.Conditions[0].LastTransitionTime.Unix() != 1764300002 {
		t.Errorf("conditions %+v, want Ready alone with its transition time", got.Status.Conditions)
	}
	if got.Status.Capacity != nil || got.Annotations != nil || got.Spec.Taints != nil {
		t.Error("the lean node keeps fields nothing reads")
	}
}
