package observe

import (
	"time"
)

// Kinds the runner observes, as their resources are named.
const (
	Pods           = "pods"
	Nodes          = "nodes"
	Deployments    = "deployments"
	Jobs           = "jobs"
	Services       = "services"
	EndpointSlices = "endpointslices"
)

// Origin is how an object's state reached kwok-run, which decides whether
// the transitions it shows can be timed.
type Origin int

const (
	// Live: a watch event, stamped on receipt.
	Live Origin = iota
	// Replayed: an event the apiserver sent again after a watch was resumed
	// from a gap longer than ExactGap; it happened somewhere in the gap.
	Replayed
	// Initial: the list before the run, whose objects are not the run's.
	Initial
	// Relisted: a list after a watch fell too far behind to resume.
	Relisted
)

// ExactGap is the longest time a watch may be down and the events replayed
// after it still count as timed: an event that happened during the gap is
// stamped at most this much (plus delivery) late.
const ExactGap = 50 * time.Millisecond

// A stamp is a time since the run started, on the monotonic clock; zero
// means the transition was never seen.

// PodTransition indexes a pod's stamps.
type PodTransition uint8

const (
	PodCreated PodTransition = iota
	PodScheduled
	PodRunning
	PodReady
	PodSucceeded
	PodFailed
	PodDeleting
	PodGone
	podTransitions
)

var podTransitionNames = [podTransitions]string{"created", "scheduled", "running", "ready", "succeeded", "failed", "deleting", "gone"}

func (t PodTransition) String() string { return podTransitionNames[t] }

// Pod is what the run keeps of one pod: a few names and its stamps, never
// the object. Its size is the per-pod cost of measuring.
type Pod struct {
	Namespace, Name, Node string
	uid                   uint64
	At                    [podTransitions]time.Duration
	// Inexact has bit t set when transition t was seen only after a gap or
	// inferred from a later state; such transitions are counted, not timed.
	Inexact uint16
	// Preexisting pods were there before the run and are not measured.
	Preexisting bool
	// Server-side times (Unix seconds, 0 unknown): creationTimestamp, and the
	// lastTransitionTime of the PodScheduled and Ready conditions.
	ServerCreated, ServerScheduled, ServerReady int64
}

// Timed reports whether transition t was seen, on time.
func (p *Pod) Timed(t PodTransition) bool { return p.At[t] > 0 && p.Inexact&(1<<t) == 0 }

func (p *Pod) stamp(t PodTransition, at time.Duration, exact bool) bool {
	if p.At[t] > 0 {
		return false
	}
	p.At[t] = at
	if !exact {
		p.Inexact |= 1 << t
	}
	return true
}

// NodeTransition indexes a node's stamps.
type NodeTransition uint8

const (
	NodeCreated NodeTransition = iota
	NodeReady
	NodeDeleting
	NodeGone
	nodeTransitions
)

var nodeTransitionNames = [nodeTransitions]string{"created", "ready", "deleting", "gone"}

func (t NodeTransition) String() string { return nodeTransitionNames[t] }

// Interval is a span between two stamps; End zero means still open.
type Interval struct {
	Start, End time.Duration
	Inexact    bool
}

// Node is what the run keeps of one node.
type Node struct {
	Name string
	// Pool is the node's kwok-run pool, "" for a node of no pool.
	Pool        string
	uid         uint64
	At          [nodeTransitions]time.Duration
	Inexact     uint8
	Preexisting bool
	// Outages are the node's NotReady spells after it was first Ready.
	Outages []Interval
	ready   bool
	// Server-side times (Unix seconds): creationTimestamp, and the Ready
	// condition's lastTransitionTime when it first turned True.
	ServerCreated, ServerReady int64
}

// Timed reports whether transition t was seen, on time.
func (n *Node) Timed(t NodeTransition) bool { return n.At[t] > 0 && n.Inexact&(1<<t) == 0 }

func (n *Node) stamp(t NodeTransition, at time.Duration, exact bool) bool {
	if n.At[t] > 0 {
		return false
	}
	n.At[t] = at
	if !exact {
		n.Inexact |= 1 << t
	}
	return true
}

// Deployment is what the run keeps of one Deployment: each time it was
// created or changed until all its replicas were available again.
type Deployment struct {
	Namespace, Name string
	uid             uint64
	Preexisting     bool
	Rollouts        []Interval
	// Available is whether the Deployment was available when last seen.
	Available bool
}

// Job is what the run keeps of one Job.
type Job struct {
	Namespace, Name string
	uid             uint64
	Preexisting     bool
	// Created, Complete and Failed are stamps; Inexact covers all three.
	Created, Complete, Failed time.Duration
	Inexact                   bool
}

// Records are everything the observers kept, for measuring after the run.
type Records struct {
	Pods        []*Pod
	Nodes       []*Node
	Deployments []*Deployment
	Jobs        []*Job
	Services    []*Service
	Watches     []WatchStats
	// Examples names a few transitions that could not be timed.
	Examples []string
	// Created counts the objects kwok-run told the recorder it created.
	Created int
	// Unseen are the creation stamps of the objects kwok-run created
	// (Created) that no watch ever saw: made and gone again while a watch
	// was down and relisted. UnseenExamples names a few.
	Unseen         []time.Duration
	UnseenExamples []string
}

// WatchStats is one measuring watch's history.
type WatchStats struct {
	Kind       string
	Events     int
	Restarts   int
	Relists    int
	LongestGap time.Duration
	// Resumed are the stamps of the restarts, to tell them apart by step.
	Resumed []time.Duration
}
