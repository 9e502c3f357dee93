// An internal app for the integration tests (tests/integration/daemon/node_verify_test.cpp): an HTTP sink that checks
// every POST the way an integrator would, with code that is not payhook's:
//   - v1 with the official Standard Webhooks library (npm `standardwebhooks`): `new Webhook(secret).verify(body,
//     headers)` must pass for EACH configured whsec_ secret (during rotation payhook signs with all of them);
//   - v1a with Node's own crypto.verify (ed25519) over `${webhook-id}.${webhook-timestamp}.${body}`, with the
//     public key built from the raw 32 bytes of a whpk_ key (a JWK), within the same 5 minute tolerance.
// It answers 200 when everything verifies, 400 otherwise (500 on purpose, see fail_first), and appends one JSON
// line per request to the log file BEFORE answering, so whoever saw the answer can read the line: path, id,
// timestamp, signature, attempt, webhook_id, v1 (one boolean per secret), v1a (null when not checked), ok,
// status, errors, and the body (so a test can replay or tamper with it).
//
// Usage: node verify_sink.mjs CONFIG.json
//   {
//     "log_file": "/tmp/x/sink.log",          // required: one JSON line per request
//     "port_file": "/tmp/x/sink.port",        // optional: the port, written (by rename) once listening
//     "paths": {                              // one entry per URL path the sink serves
//       "/a": {"secrets": ["whsec_...", "whsec_..."]},
//       "/b": {"secrets": ["whsec_..."], "public_key": "whpk_..."}   // public_key: a v1a entry is required
//     },
//     "fail_first": ["msg_1"],                // inbound webhook ids (envelope data.webhook_id) whose attempt 1
//                                             // is answered 500 after it verified, so payhookd retries it
//     "exit_on_stdin_eof": true,              // exit when stdin closes (the test holds a pipe)
//     "max_lifetime_ms": 120000               // exit anyway after this long
//   }
// Listens on 127.0.0.1:0 and prints the port as the first stdout line. Test keys only.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import { Webhook } from 'standardwebhooks';

const TOLERANCE_S = 5 * 60;

function die(message) {
  process.stderr.write(`verify_sink: ${message}\n`);
  process.exit(2);
}

if (process.argv.length !== 3) die('usage: node verify_sink.mjs CONFIG.json');
let config;
try {
  config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
} catch (e) {
  die(`cannot read the config: ${e.message}`);
}
if (typeof config.log_file !== 'string') die('config: log_file is required');
if (typeof config.paths !== 'object' || config.paths === null) die('config: paths is required');
const failFirst = new Set(config.fail_first ?? []);

// whpk_<base64 of 32 bytes> → a KeyObject, through a JWK (RFC 8037: x is the raw key, base64url).
function ed25519PublicKey(text) {
  const raw = Buffer.from(text.replace(/^whpk_/, ''), 'base64');
  if (raw.length !== 32) throw new Error(`a whpk_ key must be 32 bytes, got ${raw.length}`);
  return crypto.createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
}

const targets = new Map();
for (const [path, t] of Object.entries(config.paths)) {
  if (!Array.isArray(t.secrets) || t.secrets.length === 0) die(`config: paths["${path}"].secrets is required`);
  let publicKey = null;
  try {
    // The library decodes the secret in its constructor: a bad one is a config error, not a refusal.
    for (const s of t.secrets) new Webhook(s);
    if (t.public_key) publicKey = ed25519PublicKey(t.public_key);
  } catch (e) {
    die(`config: paths["${path}"]: ${e.message}`);
  }
  targets.set(path, { secrets: t.secrets, publicKey });
}

function verifyV1a(publicKey, headers, body, errors) {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sig = headers['webhook-signature'];
  if (!id || !ts || !sig) {
    errors.push('v1a: missing webhook headers');
    return false;
  }
  if (!/^[0-9]+$/.test(ts) || Math.abs(Math.floor(Date.now() / 1000) - Number(ts)) > TOLERANCE_S) {
    errors.push(`v1a: timestamp ${ts} outside the tolerance`);
    return false;
  }
  const entries = sig.split(' ').filter((e) => e.startsWith('v1a,'));
  if (entries.length === 0) {
    errors.push('v1a: no v1a entry in webhook-signature');
    return false;
  }
  // The signed content, byte for byte: the body is not decoded and re-encoded.
  const signed = Buffer.concat([Buffer.from(`${id}.${ts}.`, 'utf8'), body]);
  for (const e of entries) {
    try {
      if (crypto.verify(null, signed, publicKey, Buffer.from(e.slice(4), 'base64'))) return true;
    } catch (err) {
      errors.push(`v1a: ${err.message}`);
    }
  }
  errors.push('v1a: no entry verifies');
  return false;
}

function handle(req, body) {
  const target = targets.get(new URL(req.url, 'http://sink').pathname);
  const errors = [];
  const line = {
    path: req.url,
    method: req.method,
    id: req.headers['webhook-id'] ?? null,
    timestamp: req.headers['webhook-timestamp'] ?? null,
    signature: req.headers['webhook-signature'] ?? null,
    content_type: req.headers['content-type'] ?? null,
    user_agent: req.headers['user-agent'] ?? null,
    body: body.toString('utf8'),
    attempt: null,
    webhook_id: null,
    v1: [],
    v1a: null,
    ok: false,
    status: 400,
    errors,
  };
  if (req.method !== 'POST') errors.push(`method ${req.method}`);
  if (!target) {
    errors.push('no such path');
    line.status = 404;
    return line;
  }
  for (const secret of target.secrets) {
    try {
      new Webhook(secret).verify(body, req.headers);
      line.v1.push(true);
    } catch (e) {
      line.v1.push(false);
      errors.push(`v1: ${e.message}`);
    }
  }
  if (target.publicKey) line.v1a = verifyV1a(target.publicKey, req.headers, body, errors);
  let envelope = null;
  try {
    envelope = JSON.parse(body.toString('utf8'));
    line.attempt = envelope.attempt ?? null;
    line.webhook_id = envelope.data?.webhook_id ?? null;
    if (envelope.id !== line.id) errors.push('envelope id differs from webhook-id');
  } catch (e) {
    errors.push(`body: ${e.message}`);
  }
  if (!(line.content_type ?? '').startsWith('application/json')) errors.push('content-type is not JSON');
  line.ok =
    req.method === 'POST' &&
    envelope !== null &&
    envelope.id === line.id &&
    (line.content_type ?? '').startsWith('application/json') &&
    line.v1.length > 0 &&
    line.v1.every(Boolean) &&
    (target.publicKey === null || line.v1a === true);
  if (!line.ok) line.status = 400;
  else if (line.attempt === 1 && failFirst.has(line.webhook_id)) line.status = 500;
  else line.status = 200;
  return line;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let line;
    try {
      line = handle(req, Buffer.concat(chunks));
    } catch (e) {
      line = { path: req.url, ok: false, status: 400, errors: [`sink: ${e.stack}`] };
    }
    fs.appendFileSync(config.log_file, `${JSON.stringify(line)}\n`);
    res.writeHead(line.status, { 'content-type': 'text/plain' });
    res.end(line.ok ? `verified, answering ${line.status}\n` : `refused: ${line.errors.join('; ')}\n`);
  });
});

function shutdown(code) {
  server.close();
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
if (config.exit_on_stdin_eof) {
  process.stdin.on('end', () => shutdown(0));
  process.stdin.on('error', () => shutdown(0));
  process.stdin.resume();
}
setTimeout(() => {
  process.stderr.write('verify_sink: max_lifetime_ms passed, exiting\n');
  process.exit(3);
}, config.max_lifetime_ms ?? 120_000).unref();

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  if (config.port_file) {
    fs.writeFileSync(`${config.port_file}.tmp`, `${port}\n`);
    fs.renameSync(`${config.port_file}.tmp`, config.port_file);
  }
  process.stdout.write(`${port}\n`);
});
