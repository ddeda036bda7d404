// Third-party Node DCR clients against the dcr handler + Authlete emulator.
// Run by TestNodeClients (interop/node_test.go), which starts the stacks and
// passes their URLs in DCR_ISSUER and DCR_IAT_ISSUER.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { registerClient } from '@modelcontextprotocol/sdk/client/auth.js';

const issuer = process.env.DCR_ISSUER;
const iatIssuer = process.env.DCR_IAT_ISSUER;
const iat = process.env.DCR_IAT;
if (!issuer || !iatIssuer || !iat) {
  throw new Error('DCR_ISSUER, DCR_IAT_ISSUER and DCR_IAT must be set: run these tests through TestNodeClients');
}

// Authorization server metadata as oauth4webapi and the MCP SDK take it.
const asOf = (base) => ({
  issuer: base,
  authorization_endpoint: `${base}/authorize`,
  token_endpoint: `${base}/token`,
  registration_endpoint: `${base}/register`,
  response_types_supported: ['code'],
  code_challenge_methods_supported: ['S256'],
});
const as = asOf(issuer);
const insecure = { [oauth.allowInsecureRequests]: true }; // the stack is plain http on 127.0.0.1

async function register4w(server, metadata, options = {}) {
  const response = await oauth.dynamicClientRegistrationRequest(server, metadata, { ...insecure, ...options });
  return oauth.processDynamicClientRegistrationResponse(response);
}

test('oauth4webapi: confidential client', async () => {
  const client = await register4w(as, {
    client_name: 'oauth4webapi confidential',
    redirect_uris: ['https://app.example.com/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  assert.match(client.client_id, /^\d{14}$/);
  assert.equal(typeof client.client_secret, 'string');
  assert.equal(client.client_secret_expires_at, 0);
  assert.deepEqual(client.redirect_uris, ['https://app.example.com/callback']);
  assert.equal(typeof client.registration_access_token, 'string');
  assert.equal(client.registration_client_uri, `${issuer}/register/${client.client_id}`);
});

test('oauth4webapi: public loopback client with extra members', async () => {
  const client = await register4w(as, {
    client_name: 'Claude Code',
    redirect_uris: ['http://localhost:33418/callback', 'http://127.0.0.1:33418/callback'],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    resource: 'https://mcp.example.com/',
    scope: '',
  });
  assert.equal(client.token_endpoint_auth_method, 'none');
  assert.equal(client.client_secret, undefined);
  assert.equal(client.resource, undefined, 'unknown members are ignored');
  assert.deepEqual(client.grant_types, ['authorization_code', 'refresh_token']);
});

test('oauth4webapi: rejected redirect URI surfaces invalid_redirect_uri', async () => {
  await assert.rejects(
    register4w(as, { redirect_uris: ['https://app.example.com/callback#fragment'] }),
    (err) => {
      assert.ok(err instanceof oauth.ResponseBodyError, `got ${err}`);
      assert.equal(err.status, 400);
      assert.equal(err.error, 'invalid_redirect_uri');
      assert.ok(err.error_description.length > 0);
      return true;
    },
  );
});

test('oauth4webapi: initial access token', async () => {
  const iatAs = asOf(iatIssuer);
  const client = await register4w(iatAs, { redirect_uris: ['http://127.0.0.1:9999/cb'], token_endpoint_auth_method: 'none' },
    { initialAccessToken: iat });
  assert.match(client.client_id, /^\d{14}$/);

  await assert.rejects(
    register4w(iatAs, { redirect_uris: ['http://127.0.0.1:9999/cb'] }, { initialAccessToken: 'wrong' }),
    (err) => {
      assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, `got ${err}`);
      assert.equal(err.status, 401);
      assert.equal(err.cause[0].scheme, 'bearer');
      assert.equal(err.cause[0].parameters.error, 'invalid_token');
      return true;
    },
  );
});

test('MCP TypeScript SDK: public loopback client', async () => {
  const info = await registerClient(issuer, {
    metadata: as,
    clientMetadata: {
      client_name: 'MCP Inspector',
      redirect_uris: ['http://localhost:6274/oauth/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    },
    scope: '',
  });
  assert.match(info.client_id, /^\d{14}$/);
  assert.deepEqual(info.redirect_uris, ['http://localhost:6274/oauth/callback']);
  assert.equal(info.client_secret, undefined);
});

test('MCP TypeScript SDK: confidential client', async () => {
  const info = await registerClient(issuer, {
    metadata: as,
    clientMetadata: { client_name: 'server-side agent', redirect_uris: ['https://agent.example.com/cb'] },
  });
  assert.equal(typeof info.client_secret, 'string');
  assert.equal(info.client_secret_expires_at, 0);
});

test('MCP TypeScript SDK: rejected metadata surfaces invalid_client_metadata', async () => {
  await assert.rejects(
    registerClient(issuer, {
      metadata: as,
      clientMetadata: { redirect_uris: ['https://agent.example.com/cb'], token_endpoint_auth_method: 'magic' },
    }),
    (err) => {
      assert.equal(err.errorCode, 'invalid_client_metadata', `got ${err}`);
      return true;
    },
  );
});

test('MCP TypeScript SDK: invalid_redirect_uri arrives as a ServerError (the SDK knows no such code)', async () => {
  // The SDK maps error codes it does not know to ServerError; the description survives.
  await assert.rejects(
    registerClient(issuer, { metadata: as, clientMetadata: { redirect_uris: ['https://a.example/cb#frag'] } }),
    (err) => {
      assert.equal(err.errorCode, 'server_error', `got ${err}`);
      assert.match(err.message, /fragment/);
      return true;
    },
  );
});

test('MCP TypeScript SDK: initial access token through fetchFn', async () => {
  const withToken = (url, init = {}) =>
    fetch(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${iat}` } });
  const iatAs = asOf(iatIssuer);
  const info = await registerClient(iatIssuer, {
    metadata: iatAs,
    clientMetadata: { redirect_uris: ['http://127.0.0.1:9999/cb'], token_endpoint_auth_method: 'none' },
    fetchFn: withToken,
  });
  assert.match(info.client_id, /^\d{14}$/);
  await assert.rejects(
    registerClient(iatIssuer, { metadata: iatAs, clientMetadata: { redirect_uris: ['http://127.0.0.1:9999/cb'] } }),
    (err) => {
      assert.equal(err.errorCode, 'invalid_token', `got ${err}`);
      return true;
    },
  );
});
