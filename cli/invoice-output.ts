import { stringify } from 'csv-stringify/sync';
import type { Invoice, InvoiceLine, InvoiceTotals } from '../billing/invoice.js';
import { renderTable } from './table.js';

export type InvoiceFormat = 'table' | 'json' | 'csv';
export const INVOICE_FORMATS: readonly InvoiceFormat[] = ['table', 'json', 'csv'];

export interface InvoiceDocument {
  /** What the invoice covers (org, month or period, grouping), first in JSON. */
  header: Record<string, string>;
  /** The line key's column name (model, feature, user_id). */
  by: string;
  invoice: Invoice;
  /** Line and total columns to show, in order (credits only when a card has credits). */
  lineColumns: ReadonlyArray<keyof InvoiceLine>;
  totalColumns: ReadonlyArray<keyof InvoiceTotals>;
}

/** The line columns under the names a total uses for the same figure. */
const TOTAL_OF: Partial<Record<keyof InvoiceLine, keyof InvoiceTotals>> = {
  cost_usd: 'total_cost_usd', billed_usd: 'total_billed_usd', credits: 'total_credits',
};

function lineRecord(doc: InvoiceDocument, line: InvoiceLine): Record<string, unknown> {
  return Object.fromEntries([[doc.by, line.key], ...doc.lineColumns.map((c) => [c, line[c]])]);
}

function totalRecord(doc: InvoiceDocument): Record<string, unknown> {
  const totals = doc.invoice.totals as unknown as Record<string, unknown>;
  return Object.fromEntries([[doc.by, 'TOTAL'], ...doc.lineColumns.map((c) => [c, totals[TOTAL_OF[c] ?? c]])]);
}

/**
 * The invoice as text. Deterministic: lines sorted by key, exact decimals, no clock: the same
 * calls and cards print the same bytes. CSV is RFC 4180 (csv-stringify): the lines, then a TOTAL
 * row in the same columns, so a spreadsheet's column sums equal it.
 */
export function renderInvoice(doc: InvoiceDocument, format: InvoiceFormat): string {
  const columns = [doc.by, ...doc.lineColumns];
  const rows = doc.invoice.lines.map((line) => lineRecord(doc, line));
  if (format === 'csv') return stringify([...rows, totalRecord(doc)], { header: true, columns: columns as string[], record_delimiter: 'unix' }).trimEnd();
  const totals = Object.fromEntries(doc.totalColumns.map((c) => [c, doc.invoice.totals[c]]));
  if (format === 'json') {
    return JSON.stringify({ ...doc.header, cards_used: doc.invoice.cards_used, lines: rows, totals });
  }
  return [
    Object.entries(doc.header).map(([k, v]) => `${k}: ${v}`).join('  '),
    '',
    renderTable([...rows, totalRecord(doc)], columns as string[]),
    '',
    renderTable([totals]),
    `cards: ${doc.invoice.cards_used.join(', ') || '(none)'}`,
  ].join('\n');
}
