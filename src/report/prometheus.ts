/**
 * Prometheus export (docs/METHODOLOGY.md "Metrics Collection"): exposition format, Pushgateway push, live scrape
 * endpoint, text file. The CLI maps flags to {@link parsePrometheusOptions} and runs
 * {@link startPrometheusExport} beside the engine. See docs/PROMETHEUS.md.
 */
export {
  DEFAULT_METRIC_PREFIX,
  DEFAULT_PUSH_INTERVAL_MS,
  DEFAULT_PUSHGATEWAY_JOB,
  PrometheusOptionError,
  RESERVED_LABEL_NAMES,
  checkPrometheusOptions,
  parsePrometheusOptions,
  redactUrl,
  type ListenAddress,
  type PrometheusOptions,
  type PushgatewayOptions,
  type RawPrometheusOptions,
} from "./prometheus-options.js";
export { EXPORTED_QUANTILES, buildRegistry } from "./prometheus-registry.js";
export { groupingKey, pushWithRetry, type PushOutcome } from "./prometheus-pushgateway.js";
export {
  startPrometheusExport,
  type PrometheusExport,
  type PrometheusExportResult,
} from "./prometheus-export.js";
