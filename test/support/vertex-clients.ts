/**
 * Google's SDKs in Vertex AI mode pointed at the fake Gemini API (demo/fake-providers/gemini.ts),
 * with no network: a fixed bearer token, and plain HTTP to the fake.
 *
 * - Auth: google-auth-library's `GoogleAuth` takes an `authClient`; this one holds a token that
 *   never expires, so no token is ever fetched (no metadata server, no oauth2.googleapis.com).
 * - `@google-cloud/vertexai` writes `https://${apiEndpoint}/…` whatever the endpoint (no scheme or
 *   fetch option), and Node's fetch cannot be told at run time to trust a test certificate on all of
 *   Node 20, 22 and 24; so its requests to the fake are sent over HTTP instead (`plainHttpTo`),
 *   unchanged otherwise. `@google/genai` takes an `http://` base URL as it is.
 */
import type * as GenAiModule from '@google/genai';
import type * as VertexModule from '@google-cloud/vertexai';
import type { FakeGemini } from '../../demo/fake-providers/gemini.js';

export const VERTEX_PROJECT = 'fake-project';
export const VERTEX_LOCATION = 'us-central1';
export const VERTEX_TOKEN = 'fake-vertex-token';

/** What `GoogleAuth` asks of an `authClient` (9.x: `getAccessToken`; 10.x: `getRequestHeaders`). */
const fixedTokenClient = {
  getAccessToken: async () => ({ token: VERTEX_TOKEN }),
  getRequestHeaders: async () => new Headers({ authorization: `Bearer ${VERTEX_TOKEN}` }),
};

/** `@google-cloud/vertexai`'s client of the fake (run the calls inside `plainHttpTo(fake.host)`). */
export function vertexClient(vertexai: typeof VertexModule, fake: FakeGemini): VertexModule.VertexAI {
  return new vertexai.VertexAI({
    project: VERTEX_PROJECT,
    location: VERTEX_LOCATION,
    apiEndpoint: fake.host,
    googleAuthOptions: { authClient: fixedTokenClient as never },
  });
}

/** `@google/genai` with `vertexai: true` (project and location, not an API key), on the fake. */
export function genAiOnVertex(genai: typeof GenAiModule, fake: FakeGemini): GenAiModule.GoogleGenAI {
  return new genai.GoogleGenAI({
    vertexai: true,
    project: VERTEX_PROJECT,
    location: VERTEX_LOCATION,
    httpOptions: { baseUrl: fake.url },
    googleAuthOptions: { authClient: fixedTokenClient as never },
  });
}

/** Sends fetches of `https://<host>/…` to `http://<host>/…` until the returned undo is called. */
export function plainHttpTo(host: string): () => void {
  const original = globalThis.fetch;
  const secure = `https://${host}/`;
  globalThis.fetch = (input, init) =>
    original(typeof input === 'string' && input.startsWith(secure) ? `http://${input.slice('https://'.length)}` : input, init);
  return () => {
    globalThis.fetch = original;
  };
}
