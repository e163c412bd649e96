/**
 * docker-compose.yml and the Dockerfile, checked without a Docker engine: structure, pinned
 * images, health checks, host paths that exist, the collector pointed at ClickHouse, a read-only
 * Grafana user, and a multi-stage non-root image.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCollectorConfig } from '../../collector/config.js';
import { REPO_ROOT } from './support/cli.js';

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string> | string[];
  volumes?: Array<string | { type: string; source: string; target: string }>;
  healthcheck?: { test: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  configs?: Array<{ source: string; target: string }>;
  ports?: string[];
}
interface Compose {
  services: Record<string, Service>;
  configs?: Record<string, { content?: string; file?: string }>;
  volumes?: Record<string, unknown>;
}

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as Compose;
const services = Object.entries(compose.services);
const env = (s: Service): Record<string, string> =>
  Array.isArray(s.environment)
    ? Object.fromEntries(s.environment.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))
    : (s.environment ?? {});
/** `${VAR:-default}` → default, as Compose renders it without a .env file. */
const rendered = (value: string): string => value.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');

describe('docker-compose.yml', () => {
  it('has the services', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['clickhouse', 'collector', 'demo', 'grafana']);
  });

  it.each(services)('%s: an image or a build, pinned (no latest)', (_name, service) => {
    expect(service.image !== undefined || service.build !== undefined).toBe(true);
    if (service.image !== undefined) {
      const tag = /^[^:@]+(?::([^@]+))?(?:@sha256:[0-9a-f]{64})?$/.exec(service.image);
      expect(tag, service.image).not.toBeNull();
      expect(tag![1], `${service.image} has no tag`).toBeDefined();
      expect(tag![1]).not.toMatch(/latest/);
      if (service.build === undefined) expect(tag![1], `${service.image}: pin a version`).toMatch(/^\d+\.\d+(\.\d+)*/);
    }
    if (service.build !== undefined) {
      const build = typeof service.build === 'string' ? { context: service.build } : service.build;
      expect(existsSync(join(REPO_ROOT, build.context, build.dockerfile ?? 'Dockerfile'))).toBe(true);
    }
  });

  it.each(services)('%s: a health check', (_name, service) => {
    expect(service.healthcheck?.disable).not.toBe(true);
    expect(service.healthcheck?.test).toBeDefined();
    const test = service.healthcheck!.test;
    expect(Array.isArray(test) ? test[0] : test).toMatch(/^(CMD|CMD-SHELL)$/);
  });

  it.each(services)('%s: bind-mounted host paths exist in the repository', (_name, service) => {
    for (const volume of service.volumes ?? []) {
      const source = typeof volume === 'string' ? volume.split(':')[0]! : volume.source;
      if (!source.startsWith('.') && !source.startsWith('/')) {
        expect(compose.volumes, `named volume ${source} is declared`).toHaveProperty(source);
        continue;
      }
      expect(source.startsWith('/'), `${source}: keep host paths inside the repository`).toBe(false);
      expect(existsSync(join(REPO_ROOT, source)), `${source} exists`).toBe(true);
    }
  });

  it('pins the ClickHouse server and Grafana with its ClickHouse plugin, and mounts the provisioning', () => {
    expect(compose.services.clickhouse!.image).toMatch(/^clickhouse\/clickhouse-server:\d+\.\d+\.\d+\.\d+$/);
    const grafana = compose.services.grafana!;
    expect(grafana.image).toMatch(/^grafana\/grafana:12\.\d+\.\d+$/);
    expect(env(grafana).GF_INSTALL_PLUGINS).toMatch(/^grafana-clickhouse-datasource \d+\.\d+\.\d+$/);
    expect(grafana.volumes).toEqual(expect.arrayContaining([
      './grafana/provisioning:/etc/grafana/provisioning:ro',
      './grafana/dashboards:/var/lib/grafana/dashboards:ro',
    ]));
    expect(grafana.depends_on?.clickhouse?.condition).toBe('service_healthy');
  });

  it('points the collector at the ClickHouse service, with the ledger database', () => {
    const collector = compose.services.collector!;
    const url = new URL(rendered(env(collector).CLICKHOUSE_URL!));
    expect(url.protocol).toBe('http:');
    expect(url.hostname).toBe('clickhouse');
    expect(url.port).toBe('8123');
    expect(url.pathname).toBe(`/${env(compose.services.clickhouse!).CLICKHOUSE_DB}`);
    expect(decodeURIComponent(url.username)).toBe(env(compose.services.clickhouse!).CLICKHOUSE_USER);
    expect(decodeURIComponent(url.password)).toBe(rendered(env(compose.services.clickhouse!).CLICKHOUSE_PASSWORD!));
    expect(env(collector).GENAI_LEDGER_HOST).toBe('0.0.0.0');
    expect(collector.ports).toContain('4318:4318');
    expect(collector.depends_on?.clickhouse?.condition).toBe('service_healthy');
    expect(JSON.stringify(collector.healthcheck!.test)).toContain('/healthz');
  });

  it('gives Grafana a read-only ClickHouse user that can only SELECT the ledger', () => {
    const clickhouse = compose.services.clickhouse!;
    const mount = clickhouse.configs?.find((c) => c.target.startsWith('/etc/clickhouse-server/users.d/'));
    expect(mount).toBeDefined();
    const xml = compose.configs?.[mount!.source]?.content ?? '';
    const user = env(compose.services.grafana!).CLICKHOUSE_READONLY_USER!;
    expect(xml).toContain(`<${user}>`);
    expect(xml).toMatch(/<readonly>1<\/readonly>/);
    expect(xml).toMatch(/<max_execution_time>\s*<changeable_in_readonly\/>\s*<\/max_execution_time>/);
    expect(xml).toContain(`<query>GRANT SELECT ON ${env(clickhouse).CLICKHOUSE_DB}.*</query>`);
    expect(xml).toContain('<password from_env="CLICKHOUSE_GRAFANA_PASSWORD"/>');
    expect(env(clickhouse).CLICKHOUSE_GRAFANA_PASSWORD).toBe(env(compose.services.grafana!).CLICKHOUSE_READONLY_PASSWORD);
    expect(xml).not.toMatch(/\$(?!\$)/);
  });

  it("the collector's environment is a valid configuration (spool included)", () => {
    const vars = Object.fromEntries(Object.entries(env(compose.services.collector!)).map(([k, v]) => [k, rendered(v)]));
    const config = parseCollectorConfig([], vars);
    expect(config.spool?.dir).toBe('/var/lib/genai-ledger/spool');
    expect(compose.services.collector!.volumes).toContain('collector-spool:/var/lib/genai-ledger/spool');
  });

  it('gives Grafana every variable its provisioning files read (Grafana has no defaults for them)', () => {
    const dir = join(REPO_ROOT, 'grafana/provisioning/datasources');
    const used = new Set<string>();
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8').split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
      for (const m of text.matchAll(/\$\{([A-Z0-9_]+)\}/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(0);
    const grafanaEnv = env(compose.services.grafana!);
    for (const name of used) expect(grafanaEnv, `grafana service sets ${name}`).toHaveProperty(name);
    expect(grafanaEnv.CLICKHOUSE_HOST).toBe('clickhouse');
    expect(grafanaEnv.CLICKHOUSE_DATABASE).toBe(env(compose.services.clickhouse!).CLICKHOUSE_DB);
  });

  it('has a demo profile that runs `demo` against the ClickHouse server', () => {
    const demo = compose.services.demo!;
    expect(demo.profiles).toEqual(['demo']);
    const command = demo.command as string[];
    expect(command[0]).toBe('demo');
    const store = command[command.indexOf('--store') + 1]!;
    expect(new URL(rendered(store)).hostname).toBe('clickhouse');
    expect(demo.depends_on?.clickhouse?.condition).toBe('service_healthy');
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const stages = lines.filter((l) => /^FROM /i.test(l));
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

  it('is multi-stage on node:20-slim: npm ci + build, then a runtime without dev dependencies', () => {
    expect(text).toMatch(/^ARG NODE_IMAGE=node:20-slim$/m);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage).toMatch(/^FROM \$\{NODE_IMAGE\} AS \w+$/);
    expect(text).toMatch(/RUN npm ci [^\n]*\n(?:.*\n)*RUN npm run build/);
    expect(text).toMatch(/npm ci --omit=dev/);
    for (const path of ['/app/dist', '/app/node_modules']) expect(runtime).toContain(path);
    expect(runtime).toMatch(/^COPY bin \.\/bin$/m);
    expect(runtime).toMatch(/^COPY clickhouse\/migrations \.\/clickhouse\/migrations$/m);
  });

  it('ships the packages the library leaves optional: the embedded engine (the default store) and the demo\'s', () => {
    const deps = text.slice(text.indexOf(' AS deps\n'), text.indexOf('\nFROM ', text.indexOf(' AS deps\n')));
    expect(deps).toMatch(/^RUN npm ci --omit=dev /m);
    // Installed as production dependencies at package.json's devDependencies versions (not saved).
    expect(deps).toMatch(/&& npm install --no-save --save-prod --omit=dev /);
    const names = /require\('\.\/package\.json'\)\.devDependencies\[p\][^\n]*\n\s+([^)\n]+)\)/.exec(deps)?.[1]?.trim().split(/\s+/);
    expect(names?.sort()).toEqual(['@opentelemetry/instrumentation-openai', 'chdb', 'openai']);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    for (const name of names!) expect(pkg.devDependencies, name).toHaveProperty(name);
  });

  it('runs as node, exposes 4318 and checks /healthz', () => {
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^EXPOSE 4318$/m);
    expect(runtime).toMatch(/^HEALTHCHECK [^\n]*\\\n\s+CMD \[[^\n]*\/healthz/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "bin\/genai-ledger\.js"\]$/m);
  });

  it('copies only paths that exist and that .dockerignore does not exclude', () => {
    const sources = lines
      .filter((l) => /^COPY /i.test(l) && !/--from=/.test(l))
      .flatMap((l) => l.replace(/^COPY\s+(--\S+\s+)*/i, '').split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(existsSync(join(REPO_ROOT, source)), source).toBe(true);
      expect(ignored.some((pattern) => pattern === source || pattern === source.split('/')[0]), `${source} is in .dockerignore`).toBe(false);
    }
    for (const heavy of ['node_modules', 'dist', '.git', '.genai-ledger']) expect(ignored).toContain(heavy);
  });

  it('builds everything the build config compiles', () => {
    const build = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    const copied = lines.filter((l) => /^COPY /.test(l) && !/--from=/.test(l)).join('\n');
    for (const path of [...build.include, 'demo']) expect(copied, path).toMatch(new RegExp(`\\b${path.replace('.', '\\.')}\\b`));
  });
});
