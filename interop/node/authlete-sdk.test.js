// Authlete's own TypeScript SDK (@authlete/typescript-sdk, which validates
// every answer against Authlete's schemas) against the Authlete emulator:
// proof that the emulator's answers parse as Authlete's. Run by
// TestNodeClients, which starts the emulator and passes AUTHLETE_EMULATOR_URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authlete } from '@authlete/typescript-sdk';

const serverURL = process.env.AUTHLETE_EMULATOR_URL;
const serviceId = process.env.AUTHLETE_SERVICE_APIKEY;
const bearer = process.env.AUTHLETE_SERVICE_ACCESSTOKEN;
if (!serverURL || !serviceId || !bearer) {
  throw new Error('AUTHLETE_EMULATOR_URL, AUTHLETE_SERVICE_APIKEY and AUTHLETE_SERVICE_ACCESSTOKEN must be set: run these tests through TestNodeClients');
}
const authlete = new Authlete({ bearer, serverURL });

test('Authlete SDK: DCR calls', async () => {
  const reg = await authlete.dynamicClientRegistration.register({ serviceId, requestBody: {
    json: JSON.stringify({ client_name: 'sdk', redirect_uris: ['https://app.example/cb'] }) } });
  assert.equal(reg.action, 'CREATED');
  const info = JSON.parse(reg.responseContent);
  const auth = { clientId: info.client_id, token: info.registration_access_token };

  const got = await authlete.dynamicClientRegistration.get({ serviceId, requestBody: auth });
  assert.equal(got.action, 'OK');
  const upd = await authlete.dynamicClientRegistration.update({ serviceId, requestBody: {
    ...auth, json: JSON.stringify({ client_id: info.client_id, client_name: 'renamed', redirect_uris: ['https://app.example/cb'] }) } });
  assert.equal(upd.action, 'UPDATED');
  assert.equal(JSON.parse(upd.responseContent).client_name, 'renamed');
  const del = await authlete.dynamicClientRegistration.delete({ serviceId, requestBody: auth });
  assert.equal(del.action, 'DELETED');
  const again = await authlete.dynamicClientRegistration.get({ serviceId, requestBody: auth });
  assert.equal(again.action, 'UNAUTHORIZED');
});

test('Authlete SDK: client lifecycle and service calls', async () => {
  const reg = await authlete.dynamicClientRegistration.register({ serviceId, requestBody: { json: '{"client_name":"lifecycle"}' } });
  const id = JSON.parse(reg.responseContent).client_id;

  const list = await authlete.client.list({ serviceId, start: 0, end: 100 });
  const listed = list.clients.find((c) => String(c.clientId) === id);
  assert.ok(listed, 'the client is listed');
  assert.equal(listed.dynamicallyRegistered, true);
  assert.equal(typeof listed.createdAt, 'number');

  const client = await authlete.client.get({ serviceId, clientId: id });
  assert.equal(client.clientName, 'lifecycle');

  await authlete.client.management.updateLockFlag({ serviceId, clientIdentifier: id, clientFlagUpdateRequest: { clientLocked: true } });
  assert.equal((await authlete.client.get({ serviceId, clientId: id })).locked, true);
  await authlete.client.management.updateLockFlag({ serviceId, clientIdentifier: id, clientFlagUpdateRequest: { clientLocked: false } });

  const token = await authlete.token.management.create({ serviceId, tokenCreateRequest: {
    grantType: 'AUTHORIZATION_CODE', clientId: Number(id), subject: 'alice', scopes: ['mcp'] } });
  assert.equal(token.action, 'OK');
  assert.equal(typeof token.accessToken, 'string');
  const tokens = await authlete.token.management.list({ serviceId, clientIdentifier: id });
  assert.equal(tokens.accessTokens.length, 1);
  assert.ok(tokens.accessTokens[0].accessTokenExpiresAt > Date.now());

  const service = await authlete.service.get({ serviceId });
  assert.equal(service.dynamicRegistrationSupported, true);
  assert.equal(service.unauthorizedOnClientConfigSupported, true);
  assert.equal(service.loopbackRedirectionUriVariable, true);

  await authlete.client.delete({ serviceId, clientId: id });
  await assert.rejects(authlete.client.get({ serviceId, clientId: id }), 'a deleted client is gone');
});
