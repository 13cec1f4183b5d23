// Package runner plays a plan against a running cluster: steps in order, the
// actions of a step concurrently, each at the rate the plan asks, and it
// records what happened (per-object timestamps from watches, API latencies,
// component usage, step outcomes). It reads scenario/plan and never HCL; what
// it produces is read by reports.
package runner
