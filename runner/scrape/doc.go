// Package scrape reads the control plane's Prometheus /metrics endpoints
// during a run, and kwok-run's own /proc, so a report can say what each step
// cost: CPU seconds and resident memory by component over time, etcd's
// database size, stored objects by resource, and the apiserver's request
// latency histograms between step boundaries, turned into percentiles the
// way Prometheus' histogram_quantile does.
//
// A Scraper records; its Result answers the questions per window of time,
// so the runner can ask them per step and for the whole run from one
// recording.
package scrape
