// Two flows through the TypeScript client generated from the committed spec
// (openapi-typescript types, openapi-fetch calls):
//   password: register → sign in → GET /user → refresh → sign out (the token is refused);
//   SMS one-time code (the self-service portal): request a code for a new number, read
//   it from the server's SMS outbox, verify it (201: the account is created), GET /user.
// `node dist/flow.js <base-url> <flock> <sms-outbox-dir>`
import createClient from "openapi-fetch";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { paths } from "./generated/schema.js";

const [base, flock, outbox] = process.argv.slice(2);
if (!base || !flock || !outbox) {
  throw new Error("usage: node dist/flow.js <base-url> <flock> <sms-outbox-dir>");
}
const smsOutbox: string = outbox;
const client = createClient<paths>({ baseUrl: base });
const path = { flock };

function fail(what: string, detail: unknown): never {
  throw new Error(`${what}: ${JSON.stringify(detail)}`);
}

async function passwordFlow(): Promise<void> {
  const email = `ts-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  const password = "correct horse battery staple";
  const reg = await client.POST("/api/v1/{flock}/user/register", {
    params: { path },
    body: { email, password, terms_accepted: true },
  });
  if (!reg.data) fail("register", reg.error);
  console.log(`ts: registered ${reg.data.user_id} (${reg.data.status})`);

  const signIn = await client.POST("/api/v1/{flock}/user/auth", {
    params: { path },
    body: { email, password },
  });
  if (!signIn.data) fail("sign in", signIn.error);
  const session = signIn.data;
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  const me = await client.GET("/api/v1/{flock}/user", {
    params: { path },
    headers: bearer(session.access_token),
  });
  if (me.data?.email !== email) fail("GET /user", me.error ?? me.data);
  console.log(`ts: GET /user is ${me.data.email} (${me.data.status}, ${me.data.role})`);

  const refreshed = await client.POST("/api/v1/{flock}/token/refresh", {
    params: { path },
    body: { refresh_token: session.refresh_token },
  });
  if (!refreshed.data) fail("refresh", refreshed.error);
  if (refreshed.data.refresh_token === session.refresh_token) fail("refresh", "same token");
  console.log("ts: refreshed");

  const out = await client.DELETE("/api/v1/{flock}/user/auth", {
    params: { path },
    headers: bearer(refreshed.data.access_token),
  });
  if (!out.data) fail("sign out", out.error);
  const after = await client.GET("/api/v1/{flock}/user", {
    params: { path },
    headers: bearer(refreshed.data.access_token),
  });
  if (after.response.status !== 401) fail("GET /user after sign-out", after.response.status);
  console.log(`ts: signed out; the access token is refused (401 ${after.error?.code})`);
}

async function smsCodeFlow(): Promise<void> {
  const phone = `+3579${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
  const sent = await client.POST("/api/v1/{flock}/user/otp", {
    params: { path },
    body: { channel: "sms", identifier: phone, purpose: "sign_in" },
  });
  if (!sent.data) fail("request code", sent.error);
  let code: string | undefined;
  for (let i = 0; i < 100 && !code; i++) {
    for (const name of readdirSync(smsOutbox).filter((n) => n.endsWith(".json"))) {
      const sms = JSON.parse(readFileSync(join(smsOutbox, name), "utf8")) as {
        to: string;
        text: string;
      };
      if (sms.to === phone) code = /\b(\d{6,8})\b/.exec(sms.text)?.[1];
    }
    if (!code) await new Promise((r) => setTimeout(r, 50));
  }
  if (!code) fail("the SMS", `no code for ${phone} in ${smsOutbox}`);
  const verified = await client.POST("/api/v1/{flock}/user/otp/verify", {
    params: { path },
    body: { channel: "sms", identifier: phone, purpose: "sign_in", code, terms_accepted: true },
  });
  if (!verified.data) fail("verify code", verified.error);
  if (verified.response.status !== 201) fail("verify code: a new account", verified.response.status);
  const me = await client.GET("/api/v1/{flock}/user", {
    params: { path },
    headers: { Authorization: `Bearer ${verified.data.access_token}` },
  });
  if (me.data?.phone !== phone) fail("GET /user after the code", me.error ?? me.data);
  console.log(`ts: SMS code signed up ${phone} (${me.data.status}, phone_verified ${me.data.phone_verified})`);
}

await passwordFlow();
await smsCodeFlow();
console.log("ts: flows ok");
