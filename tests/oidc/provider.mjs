// Loopback OpenID Connect provider for Fold integration tests.
//
//   node tests/oidc/provider.mjs [port]      (port 0 / omitted = any free port)
//
// stdout contract: exactly one line, `listening http://127.0.0.1:<port>`, once the
// provider accepts connections. Everything else goes to stderr. The process exits
// when its stdin closes, so a test that spawns it with a piped stdin takes it down
// when the test process dies.
//
// See README.md in this directory for the login_hint convention and /test/rotate.

// oidc-provider prints its NOTICEs with console.info (stdout). stdout is reserved for
// the single `listening` line, so route every console helper to stderr before the
// library is even loaded.
for (const m of ['log', 'info', 'debug']) {
  // eslint-disable-next-line no-console
  console[m] = (...args) => console.error(...args);
}

const { default: Provider, interactionPolicy } = await import('oidc-provider');
const http = await import('node:http');
const crypto = await import('node:crypto');

const HOST = '127.0.0.1';
const requestedPort = Number.parseInt(process.argv[2] ?? '0', 10);
if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
  console.error(`invalid port: ${process.argv[2]}`);
  process.exit(2);
}

// Die with the parent: when the spawning process goes away the pipe closes.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

// ---------------------------------------------------------------------------
// Keys

function newSigningKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    ...jwk,
    kid: `k-${crypto.randomBytes(8).toString('hex')}`,
    alg: 'RS256',
    use: 'sig',
  };
}

// Newest key first: oidc-provider signs with the first matching key (stable sort
// over equally scored candidates) and publishes all of them at jwks_uri.
const signingKeys = [newSigningKey()];

// Cookie signing keys are shared by every Provider instance so that sessions and
// interactions started before a /test/rotate still verify afterwards.
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

// ---------------------------------------------------------------------------
// Storage: one process-wide map shared by every Provider instance, so registered
// clients, sessions, interactions, grants, codes and tokens survive /test/rotate.
// (Same semantics as oidc-provider's MemoryAdapter, minus its LRU size cap, which
// could evict clients during a long test run, and minus its startup warning.)

const store = new Map(); // key -> { value, exp (ms epoch) | undefined }

function storeGet(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.exp !== undefined && entry.exp <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry.value;
}

function storeSet(key, value, expiresIn) {
  const exp = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
  store.set(key, { value, exp });
}

setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of store) {
    if (entry.exp !== undefined && entry.exp <= now) store.delete(key);
  }
}, 60_000).unref();

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

class SharedMemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session') {
      storeSet(`sessionUid:${payload.uid}`, id, expiresIn);
    }
    const { grantId, userCode } = payload;
    if (GRANTABLE.has(this.model) && grantId) {
      const grantKey = `grant:${grantId}`;
      const entry = store.get(grantKey);
      const exp = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
      if (entry) {
        entry.value.push(key);
        // the list lives as long as its longest-lived token
        if (entry.exp !== undefined) {
          entry.exp = exp === undefined ? undefined : Math.max(entry.exp, exp);
        }
      } else {
        store.set(grantKey, { value: [key], exp });
      }
    }
    if (userCode) {
      storeSet(`userCode:${userCode}`, id, expiresIn);
    }
    storeSet(key, payload, expiresIn);
  }

  async find(id) {
    return storeGet(this.key(id));
  }

  async findByUid(uid) {
    const id = storeGet(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = storeGet(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = storeGet(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  // eslint-disable-next-line class-methods-use-this
  async revokeByGrantId(grantId) {
    const grantKey = `grant:${grantId}`;
    const list = storeGet(grantKey);
    if (list) {
      for (const key of list) store.delete(key);
      store.delete(grantKey);
    }
  }
}

// ---------------------------------------------------------------------------
// Accounts: the account id is the login_hint.
//   "alice@example.com"            -> email alice@example.com, email_verified true
//   "unverified:bob@example.com"   -> email bob@example.com,   email_verified false

const UNVERIFIED = 'unverified:';

function accountClaims(accountId) {
  const verified = !accountId.startsWith(UNVERIFIED);
  const email = verified ? accountId : accountId.slice(UNVERIFIED.length);
  const at = email.indexOf('@');
  return {
    sub: `sub-${email}`,
    email,
    email_verified: verified,
    name: at === -1 ? email : email.slice(0, at),
  };
}

async function findAccount(ctx, id) {
  if (typeof id !== 'string' || id.length === 0) return undefined;
  return {
    accountId: id,
    async claims() {
      return accountClaims(id);
    },
  };
}

// ---------------------------------------------------------------------------
// Interaction policy: the default login + consent prompts, plus a login check that
// forces a new login when login_hint names a different account than the current
// session (so a shared cookie jar cannot silently reuse another user's session).

function buildPolicy() {
  const { Check, base } = interactionPolicy;
  const policy = base();
  policy.get('login').checks.add(new Check(
    'login_hint_mismatch',
    'login_hint does not match the current session',
    'login_required',
    (ctx) => {
      const { oidc } = ctx;
      const hint = oidc.params.login_hint;
      if (hint && oidc.session.accountId && oidc.session.accountId !== hint) {
        return Check.REQUEST_PROMPT;
      }
      return Check.NO_NEED_TO_PROMPT;
    },
  ));
  return policy;
}

// ---------------------------------------------------------------------------
// Provider construction (repeated on every key rotation)

let issuer; // set once the port is known

function buildProvider() {
  const provider = new Provider(issuer, {
    adapter: SharedMemoryAdapter,
    jwks: { keys: signingKeys.map((k) => ({ ...k })) },
    cookies: {
      keys: cookieKeys,
      // `lax` rather than the default `none` for long-lived cookies: avoids the
      // duplicate `.legacy` cookies and SameSite=None-without-Secure on plain http.
      // Every hop of the code flow is a top-level GET redirect, which lax allows.
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    // Put the scope-requested claims into the ID token itself, not only userinfo.
    conformIdTokenClaims: false,
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    pkce: {
      methods: ['S256'],
      required: () => true,
    },
    features: {
      devInteractions: { enabled: false },
      registration: {
        enabled: true,
        initialAccessToken: false,
      },
      userinfo: { enabled: true },
    },
    interactions: {
      policy: buildPolicy(),
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    findAccount,
    clientBasedCORS: () => true,
    // Explicit TTLs (seconds); the defaults print NOTICEs when called.
    ttl: {
      AuthorizationCode: 60,
      AccessToken: 60 * 60,
      IdToken: 60 * 60,
      RefreshToken: 24 * 60 * 60,
      Interaction: 10 * 60,
      Session: 24 * 60 * 60,
      Grant: 24 * 60 * 60,
      ClientCredentials: 10 * 60,
      DeviceCode: 10 * 60,
      BackchannelAuthenticationRequest: 10 * 60,
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  // Errors are reported to the client; keep stderr quiet apart from real bugs.
  provider.on('server_error', (ctx, err) => console.error('oidc server_error:', err));
  provider.app.silent = true;
  // One stderr line per failed token request: makes failing Rust tests debuggable.
  provider.on('grant.error', (ctx, err) => {
    const detail = err.error_detail ? ` (${err.error_detail})` : '';
    console.error(`oidc grant.error: ${err.message}${detail}`);
  });
  return { provider, callback: provider.callback() };
}

let current; // { provider, callback }

// ---------------------------------------------------------------------------
// Interactions (no UI)

async function grantFor(provider, details, accountId) {
  const { params, prompt } = details;
  let grant;
  if (details.grantId) {
    grant = await provider.Grant.find(details.grantId);
    // the session's grant may belong to another account (login_hint switch)
    if (grant && (grant.accountId !== accountId || grant.clientId !== params.client_id)) {
      grant = undefined;
    }
  }
  if (!grant) {
    grant = new provider.Grant({ accountId, clientId: params.client_id });
  }
  // Everything requested is granted.
  if (params.scope) grant.addOIDCScope(params.scope);
  const missing = prompt?.details ?? {};
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  if (params.claims) {
    try {
      const claims = JSON.parse(params.claims);
      const names = [
        ...Object.keys(claims.id_token ?? {}),
        ...Object.keys(claims.userinfo ?? {}),
      ];
      if (names.length) grant.addOIDCClaims(names);
    } catch {
      // invalid claims parameters are rejected by the authorization endpoint anyway
    }
  }
  return grant.save();
}

async function handleInteraction(req, res) {
  const { provider } = current;
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;

  if (prompt.name === 'login') {
    const hint = typeof params.login_hint === 'string' ? params.login_hint : '';
    if (!hint) {
      await provider.interactionFinished(req, res, {
        error: 'login_required',
        error_description: 'no login_hint provided to the test provider',
      }, { mergeWithLastSubmission: false });
      return;
    }
    if (details.session?.accountId && details.session.accountId !== hint) {
      // A different user is logged in on this cookie jar. oidc-provider would answer
      // the resume with an auto-submitting logout form (needs a browser), so end the
      // old session server-side instead and detach it from this interaction; the
      // resume then starts a fresh session for the hinted account.
      const old = await provider.Session.findByUid(details.session.uid);
      delete details.session;
      await details.save(details.exp - Math.floor(Date.now() / 1000));
      if (old) await old.destroy();
    }
    const grantId = await grantFor(provider, details, hint);
    await provider.interactionFinished(req, res, {
      login: { accountId: hint },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (prompt.name === 'consent') {
    const grantId = await grantFor(provider, details, details.session.accountId);
    await provider.interactionFinished(req, res, { consent: { grantId } }, {
      mergeWithLastSubmission: true,
    });
    return;
  }

  await provider.interactionFinished(req, res, {
    error: 'interaction_required',
    error_description: `unsupported prompt ${prompt.name}`,
  }, { mergeWithLastSubmission: false });
}

// ---------------------------------------------------------------------------
// HTTP front

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(data),
    'cache-control': 'no-store',
  });
  res.end(data);
}

async function frontHandler(req, res) {
  const path = (req.url ?? '/').split('?')[0];

  if (path === '/test/health' && (req.method === 'GET' || req.method === 'HEAD')) {
    sendJson(res, 200, { status: 'ok', issuer, kids: signingKeys.map((k) => k.kid) });
    return;
  }

  if (path === '/test/rotate') {
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'method_not_allowed' });
      return;
    }
    req.resume(); // ignore any body
    const key = newSigningKey();
    signingKeys.unshift(key);
    current = buildProvider();
    sendJson(res, 200, { kid: key.kid });
    return;
  }

  if (/^\/interaction\/[^/]+\/?$/.test(path) && req.method === 'GET') {
    try {
      await handleInteraction(req, res);
    } catch (err) {
      if (!res.headersSent) {
        sendJson(res, 400, {
          error: err.error ?? 'invalid_request',
          error_description: err.error_description ?? err.message,
        });
      } else {
        res.end();
      }
    }
    return;
  }

  current.callback(req, res);
}

const server = http.createServer((req, res) => {
  frontHandler(req, res).catch((err) => {
    console.error('unhandled error:', err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
    else res.end();
  });
});

server.on('error', (err) => {
  console.error(`listen failed: ${err.message}`);
  process.exit(1);
});

server.listen(requestedPort, HOST, () => {
  const { port } = server.address();
  issuer = `http://${HOST}:${port}`;
  current = buildProvider();
  process.stdout.write(`listening ${issuer}\n`);
});
