/**
 * bench/usage: span → usage row conversion with pricing, against `JSON.parse` of the same
 * OTLP/JSON payload, in one run. Goal: conversion at least as fast as parsing its input (≥ 1).
 *   npm run bench:usage [-- --spans 20000]
 */
import { parseArgs } from 'node:util';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { decodeTraceRequest } from '../collector/otlp/decode.js';
import { UsageMapper } from '../usage/mapper.js';
import { loadPriceBook } from '../pricing/index.js';
import { medianMs, perSecond, printFigure } from './support/measure.js';
import { generateSpans } from './support/traffic.js';

const { values } = parseArgs({ options: { spans: { type: 'string', default: '20000' } } });
const count = Number(values.spans);

const payload = JsonTraceSerializer.serializeRequest(generateSpans({ spans: count, aiShare: 0.9 }))!;
const text = Buffer.from(payload).toString('utf8');
const spans = decodeTraceRequest(payload, 'json').spans;
const mapper = new UsageMapper({ prices: await loadPriceBook() });
const rows = mapper.mapAll(spans).rows.length;

const parseMs = medianMs(() => JSON.parse(text));
const mapMs = medianMs(() => mapper.mapAll(spans));
const endToEndMs = medianMs(() => mapper.mapAll(decodeTraceRequest(payload, 'json').spans));

process.stdout.write(`bench/usage: ${count} spans (${rows} AI calls priced), OTLP/JSON ${(payload.length / 1e6).toFixed(1)} MB\n`);
printFigure('JSON.parse of the payload (baseline)', `${perSecond(count, parseMs)} spans/s`, 1, '-');
printFigure('span → priced row (mapAll)', `${perSecond(count, mapMs)} spans/s`, parseMs / mapMs, '≥ 1');
printFigure('  same, as rows/s', `${perSecond(rows, mapMs)} rows/s`, parseMs / mapMs, '≥ 1');
printFigure('decode OTLP/JSON + map + price (end to end)', `${perSecond(count, endToEndMs)} spans/s`, parseMs / endToEndMs, 'info');
