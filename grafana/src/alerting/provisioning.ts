/**
 * Grafana's alerting provisioning file (apiVersion 1): the genai-ledger rule group (budgets at
 * their thresholds, hourly spend jumps) and the webhook contact point the rules notify. The
 * webhook's URL is `${GENAI_LEDGER_ALERT_WEBHOOK}`, which Grafana expands from its environment
 * when it reads the file.
 */
import { ANOMALIES } from '../dashboards/ids.js';
import { DATASOURCE_TYPE, DATASOURCE_UID } from '../model.js';
import { anomalousHoursPanel, budgetThresholdSql, SPEND_JUMP, spendJumpSql } from './queries.js';

const ORG_ID = 1;
export const FOLDER = 'GenAI ledger';
export const RECEIVER = 'genai-ledger webhook';

/** A ClickHouse table query (each row a series: its string columns the labels, its number the value). */
function clickhouseQuery(rawSql: string, relativeSeconds: number): Record<string, unknown> {
  return {
    refId: 'A',
    relativeTimeRange: { from: relativeSeconds, to: 0 },
    datasourceUid: DATASOURCE_UID,
    model: { refId: 'A', datasource: { type: DATASOURCE_TYPE, uid: DATASOURCE_UID }, editorType: 'sql', format: 1, queryType: 'table', rawSql },
  };
}

/** Fires for the series of A whose value is above zero. */
const aboveZero = {
  refId: 'B',
  datasourceUid: '__expr__',
  model: { refId: 'B', type: 'threshold', expression: 'A', datasource: { type: '__expr__', uid: '__expr__' }, conditions: [{ evaluator: { type: 'gt', params: [0] } }] },
};

interface RuleSpec {
  uid: string;
  title: string;
  sql: string;
  /** The range the query sees ($__fromTime .. $__toTime = now), seconds. */
  relativeSeconds: number;
  summary: string;
  description: string;
  dashboard?: { uid: string; panelId: number };
}

function rule(spec: RuleSpec): Record<string, unknown> {
  return {
    uid: spec.uid,
    title: spec.title,
    condition: 'B',
    data: [clickhouseQuery(spec.sql, spec.relativeSeconds), aboveZero],
    ...(spec.dashboard ? { dashboardUid: spec.dashboard.uid, panelId: spec.dashboard.panelId } : {}),
    // No rows means nothing to report (no budget has spend, no hour jumped).
    noDataState: 'OK',
    execErrState: 'Error',
    for: '0s',
    annotations: { summary: spec.summary, description: spec.description },
    labels: { source: 'genai-ledger' },
    isPaused: false,
    notification_settings: { receiver: RECEIVER },
  };
}

/** The provisioning file's content. */
export function alertingProvisioning(): Record<string, unknown> {
  return {
    apiVersion: 1,
    groups: [
      {
        orgId: ORG_ID,
        name: 'genai-ledger',
        folder: FOLDER,
        interval: '1m',
        rules: [
          rule({
            uid: 'genai-ledger-budget-threshold',
            title: 'Budget past an alert threshold',
            sql: budgetThresholdSql(),
            relativeSeconds: 3600,
            summary: 'Budget {{ $labels.budget }} {{ $labels.per_value }} has spent {{ $values.A.Value }} × its limit',
            description:
              'The highest alert_at fraction of the limit the budget has reached in its current period (calendar day, week from Monday or month, UTC), from the exact ledger. `genai-ledger budgets` shows its spend, limit and forecast.',
          }),
          rule({
            uid: 'genai-ledger-spend-jump',
            title: 'Hourly spend jumped over its 7-day baseline',
            sql: spendJumpSql(),
            // The current hour and the last whole one.
            relativeSeconds: 7200,
            summary: 'An hour spent {{ $values.A.Value }} USD more than its baseline',
            description: `An hour of the last two spent at least ${SPEND_JUMP.factor} × the mean of the same hour over the 7 days before, and at least ${SPEND_JUMP.minExcessUsd} USD more (the anomalies dashboard's "Anomalous hours" with every filter on All).`,
            dashboard: { uid: ANOMALIES.uid, panelId: anomalousHoursPanel().id },
          }),
        ],
      },
    ],
    contactPoints: [
      {
        orgId: ORG_ID,
        name: RECEIVER,
        receivers: [
          { uid: 'genai-ledger-webhook', type: 'webhook', settings: { url: '${GENAI_LEDGER_ALERT_WEBHOOK}', httpMethod: 'POST' }, disableResolveMessage: false },
        ],
      },
    ],
  };
}
