// The whole token flow through a client generated from latchkey's
// openapi.yaml with @hey-api/openapi-ts, used as generated: log in, call
// /api/me/ with the Bearer token, refresh, verify, log out, and see the 401s
// that follow. `npm run check` type-checks this file against the generated
// types; `npm run flow -- BASE_URL USERNAME PASSWORD` runs it.

import { client } from './generated/client.gen';
import {
  meRetrieve,
  tokenBlacklistCreate,
  tokenCreate,
  tokenRefreshCreate,
  tokenVerifyCreate,
} from './generated/sdk.gen';
import type { TokenObtainPairResponse, TokenRefreshResponse } from './generated/types.gen';

declare const process: { argv: string[]; exit(code: number): never };

function expect(condition: boolean, what: string): void {
  if (!condition) {
    console.error(`generated TypeScript client: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

const [baseUrl, username, password] = process.argv.slice(2);
client.setConfig({ baseUrl });

const login = await tokenCreate({ body: { username, password } });
expect(login.response.status === 200 && typeof login.data?.access === 'string', 'log in');
const pair: TokenObtainPairResponse = login.data!;

const me = await meRetrieve({ auth: pair.access });
expect(me.response.status === 200 && me.data?.username === username, 'GET /api/me/ with the Bearer token');

const refreshed = await tokenRefreshCreate({ body: { refresh: pair.refresh } });
expect(refreshed.response.status === 200 && typeof refreshed.data?.refresh === 'string', 'refresh (rotated)');
const rotated: TokenRefreshResponse = refreshed.data!;

const verified = await tokenVerifyCreate({ body: { token: rotated.access } });
expect(verified.response.status === 200 && JSON.stringify(verified.data) === '{}', 'verify');

const garbage = await tokenRefreshCreate({ body: { refresh: 'not-a-token' } });
expect(
  garbage.response.status === 401 && garbage.error !== undefined && 'code' in garbage.error
    && garbage.error.detail === 'Token is invalid',
  '401 for a token that is not one',
);

const out = await tokenBlacklistCreate({ body: { refresh: rotated.refresh! } });
expect(out.response.status === 200, 'log out (blacklist)');

const after = await meRetrieve({ auth: rotated.access });
expect(
  after.response.status === 401
    && after.response.headers.get('www-authenticate') === 'Bearer realm="api", error="invalid_token"',
  '401 for the access token of a logged-out session',
);
