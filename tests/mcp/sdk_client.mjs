// SPDX-License-Identifier: MIT
//
// The official MCP TypeScript SDK's client against `cact mcp`, over one
// transport: node sdk_client.mjs stdio|http. It lists the tools, runs code
// that calls a sandbox tool, reads /output files back (an image item and a
// text resource), follows progress and live output, cancels a running call (and checks
// that the execution stopped), answers approval questions (elicitation)
// yes and no, and sees tools/list_changed after SIGHUP. Prints one
// "ok"/"not ok" line per case; exits 1 when any failed.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = process.env.CACT_SOURCE_ROOT ?? path.join(here, '../..');
const sdk = path.join(root, 'tests/peers/node_modules/@modelcontextprotocol/sdk/dist/esm');
const cact = process.env.CACT_BIN ?? path.join(root, 'build/cact');
const transport = process.argv[2];

if (transport !== 'stdio' && transport !== 'http') {
  console.error('usage: node sdk_client.mjs stdio|http');
  process.exit(2);
}
if (!fs.existsSync(sdk)) {
  console.error(`the MCP SDK is not in ${sdk}: run scripts/install-deps`);
  process.exit(1);
}
const load = (p) => import(pathToFileURL(path.join(sdk, p)).href);
const { Client } = await load('client/index.js');
const { StdioClientTransport } = await load('client/stdio.js');
const { StreamableHTTPClientTransport } = await load('client/streamableHttp.js');
const { ElicitRequestSchema, ToolListChangedNotificationSchema } = await load('types.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cact-mcp-sdk-'));
const ticks = path.join(dir, 'ticks');

function assert(cond, what) {
  if (!cond) throw new Error(`assertion failed: ${what}`);
}

const py = (src) => ['python3', '-c', src];
const tools = {
  lookup: {
    name: 'lookup',
    description: 'Look a key up.',
    parameters: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] },
    command: py("import json,sys; a=json.load(sys.stdin); print(json.dumps({'key': a['key'], 'value': a['key'].upper()}))"),
  },
  tick: {
    name: 'tick',
    description: 'Counts one tick in a file on the host.',
    parameters: { type: 'object', properties: {} },
    command: py(`import sys; sys.stdin.read(); open(${JSON.stringify(ticks)}, 'a').write('x'); print('{}')`),
  },
  send: {
    name: 'send',
    description: 'Sends a message (needs approval).',
    parameters: { type: 'object', properties: { to: { type: 'string' } }, required: ['to'] },
    approval_mode: 'always_require',
    command: py("import json,sys; a=json.load(sys.stdin); print(json.dumps({'sent_to': a['to']}))"),
  },
};

function config(name, obj) {
  const p = path.join(dir, name);
  fs.writeFileSync(p, JSON.stringify(obj));
  return p;
}

const mainConfig = config('main.json', { tools: [tools.lookup, tools.tick], limits: { timeout_s: 60 } });
const upfrontConfig = config('upfront.json', { approval_mode: 'always_require', tools: [tools.lookup] });
const perCallConfig = config('percall.json', { per_call_approval: true, tools: [tools.lookup, tools.send] });

// The URL `cact mcp --http` prints on stderr.
function waitUrl(proc) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no URL from cact mcp: ${seen}`)), 20000);
    proc.stderr.on('data', (chunk) => {
      seen += chunk.toString();
      process.stderr.write(chunk);
      const m = seen.match(/serving (http:\/\/\S+\/mcp)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => reject(new Error(`cact mcp exited with ${code}: ${seen}`)));
  });
}

function exited(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve(proc.exitCode);
    else proc.on('exit', (code) => resolve(code));
  });
}

// A connected client on a fresh server with this configuration.
async function connect(configPath, { elicit = null, args = ['--expose-tools'] } = {}) {
  const client = new Client({ name: 'cact-sdk-test', version: '1.0.0' }, { capabilities: elicit ? { elicitation: {} } : {} });
  if (elicit) client.setRequestHandler(ElicitRequestSchema, elicit);
  if (transport === 'stdio') {
    const t = new StdioClientTransport({ command: cact, args: ['mcp', '--config', configPath, ...args], env: process.env, stderr: 'inherit' });
    await client.connect(t);
    return { client, pid: t.pid, close: () => client.close() };
  }
  const proc = spawn(cact, ['mcp', '--http', '127.0.0.1:0', '--config', configPath, ...args], { stdio: ['ignore', 'inherit', 'pipe'] });
  const url = await waitUrl(proc);
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return {
    client,
    pid: proc.pid,
    close: async () => {
      await client.close();
      proc.kill('SIGTERM');
      const code = await exited(proc);
      assert(code === 0, `cact mcp exits 0 on SIGTERM (got ${code})`);
    },
  };
}

const textOf = (r) => r.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
const run = (client, code, opts) => client.callTool({ name: 'execute_code', arguments: { code } }, undefined, opts);

const cases = [];
const test = (name, fn) => cases.push({ name, fn });

test('lists execute_code and the exposed tools', async ({ client }) => {
  const { tools: list } = await client.listTools();
  const names = list.map((t) => t.name);
  assert(names[0] === 'execute_code' && names.includes('lookup') && names.includes('tick'), `tools ${names}`);
  const ec = list[0];
  assert(ec.inputSchema.properties.code.type === 'string', 'execute_code takes code');
  assert(ec.outputSchema && ec.outputSchema.properties.status, 'execute_code declares its output schema');
  assert(/lookup/.test(ec.description), 'the description lists the sandbox tools');
  const lk = list.find((t) => t.name === 'lookup');
  assert(lk.inputSchema.required[0] === 'key', 'lookup keeps its schema');
});

test('execute_code calls a sandbox tool', async ({ client }) => {
  const r = await run(client, 'r = call_tool("lookup", key="abc")\nprint(r["value"])');
  assert(!r.isError, `no error: ${JSON.stringify(r)}`);
  assert(r.content[0].type === 'text' && r.content[0].text === 'ABC\n', `stdout: ${JSON.stringify(r.content)}`);
  assert(r.structuredContent.status === 'ok' && r.structuredContent.exit_code === 0, 'status ok');
  assert(r.structuredContent.stats.tool_calls === 1, 'one tool call counted');
});

test('an exposed tool called directly', async ({ client }) => {
  const r = await client.callTool({ name: 'lookup', arguments: { key: 'xy' } });
  assert(!r.isError && r.structuredContent.value === 'XY', JSON.stringify(r));
  assert(JSON.parse(r.content[0].text).value === 'XY', 'the JSON as text too');
});

test('python errors and stderr', async ({ client }) => {
  const r = await run(client, 'import sys\nprint("to err", file=sys.stderr)\n1/0');
  assert(r.isError === true, 'isError');
  assert(r.structuredContent.status === 'python_error', r.structuredContent.status);
  assert(/\[stderr\]\nto err/.test(textOf(r)), `stderr labelled: ${textOf(r)}`);
  assert(/ZeroDivisionError/.test(textOf(r)), 'the exception is shown');
});

test('output files come back as an image and a text resource', async ({ client }) => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
  const code = [
    'import base64, os',
    `open("/output/dot.png", "wb").write(base64.b64decode("${png}"))`,
    'os.makedirs("/output/sub dir")',
    'open("/output/sub dir/r#1.csv", "w").write("a,b\\n1,2\\n")',
    'print("done")',
  ].join('\n');
  const r = await run(client, code);
  assert(!r.isError, textOf(r));
  const img = r.content.find((c) => c.type === 'image');
  assert(img && img.mimeType === 'image/png' && img.data === png, `image item: ${JSON.stringify(img)}`);
  const res = r.content.find((c) => c.type === 'resource');
  assert(res && res.resource.uri === 'file:///output/sub%20dir/r%231.csv', `resource uri ${res && res.resource.uri}`);
  assert(res.resource.mimeType === 'text/csv', `media type ${res.resource.mimeType}`);
  assert(res.resource.text === 'a,b\n1,2\n' && res.resource.blob === undefined, `text ${JSON.stringify(res.resource)}`);
  const files = r.structuredContent.files.map((f) => `${f.path}:${f.size}`).sort();
  assert(files.join() === '/output/dot.png:70,/output/sub dir/r#1.csv:8', `files ${files}`);
});

test('progress while the code runs', async ({ client }) => {
  const seen = [];
  const r = await run(client, 'import time\nprint(call_tool("lookup", key="a")["value"])\ntime.sleep(2.3)', {
    onprogress: (p) => seen.push(p),
  });
  assert(!r.isError, textOf(r));
  const msgs = seen.map((p) => p.message);
  assert(msgs.includes('call_tool lookup'), `progress messages ${msgs}`);
  assert(msgs.some((m) => /^running \d+\.\d s$/.test(m)), `a running message in ${msgs}`);
  for (let i = 1; i < seen.length; i++) assert(seen[i].progress > seen[i - 1].progress, 'progress counts up');
});

test('live output as progress messages', async ({ client }) => {
  // The first line must arrive before the code, after sleeping, makes the
  // tick tool write its file; the second after it. The code sleeps after
  // the second line too: the SDK hands notifications to their handlers a
  // turn later than responses, so a progress notification right before the
  // result may find its handler already gone.
  fs.rmSync(ticks, { force: true });
  const seen = [];
  const r = await run(client, 'import time\nprint("first")\ntime.sleep(1)\ncall_tool("tick")\nprint("second")\ntime.sleep(0.5)', {
    onprogress: (p) => {
      const stream = p._meta && p._meta['cact/stream'];
      if (stream) seen.push({ stream, message: p.message, ticked: fs.existsSync(ticks) });
    },
  });
  assert(!r.isError, textOf(r));
  assert(textOf(r).startsWith('first\nsecond\n'), `result ${textOf(r)}`);
  const first = seen.find((o) => o.message.includes('first'));
  const second = seen.find((o) => o.message.includes('second'));
  assert(first && first.stream === 'stdout' && !first.ticked, `first ${JSON.stringify(first)}`);
  assert(second && second.ticked, `second ${JSON.stringify(second)}`);
  assert(seen.map((o) => o.message).join('') === 'first\nsecond\n', `chunks ${JSON.stringify(seen)}`);
});

test('cancelling a call stops the execution', async ({ client }) => {
  fs.rmSync(ticks, { force: true });
  const ac = new AbortController();
  const call = run(client, 'import time\nwhile True:\n    call_tool("tick")\n    time.sleep(0.05)', { signal: ac.signal });
  const size = () => (fs.existsSync(ticks) ? fs.statSync(ticks).size : 0);
  for (let i = 0; i < 200 && size() < 3; i++) await sleep(50);
  assert(size() >= 3, 'the code runs and ticks');
  ac.abort('enough');
  let rejected = false;
  try {
    await call;
  } catch (e) {
    rejected = true;
  }
  assert(rejected, 'the aborted call rejects');
  await sleep(700);
  const after = size();
  await sleep(1500);
  assert(size() === after, `no tick after the cancellation (${after} -> ${size()})`);
  await client.ping();
  const r = await run(client, 'print(6*7)');
  assert(textOf(r) === '42\n', 'the session goes on');
});

test('tools/list_changed after SIGHUP', async ({ client, pid, configPath }) => {
  let changed = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    changed++;
  });
  await sleep(300); // the HTTP client opens its GET stream after initialization
  fs.writeFileSync(configPath, JSON.stringify({ tools: [tools.lookup, tools.tick, { ...tools.lookup, name: 'extra' }] }));
  process.kill(pid, 'SIGHUP');
  for (let i = 0; i < 200 && !changed; i++) await sleep(50);
  assert(changed === 1, `one notification (${changed})`);
  const names = (await client.listTools()).tools.map((t) => t.name);
  assert(names.includes('extra'), `the new tool is listed: ${names}`);
});

// Each of these needs a server of its own.
const own = [];
const testOwn = (name, fn) => own.push({ name, fn });

testOwn('approval through elicitation: approved', async () => {
  const asked = [];
  const s = await connect(upfrontConfig, {
    elicit: async (req) => {
      asked.push(req.params);
      return { action: 'accept', content: { approve: true } };
    },
  });
  try {
    const r = await run(s.client, 'print(call_tool("lookup", key="ok")["value"])');
    assert(!r.isError && textOf(r) === 'OK\n', textOf(r));
    assert(asked.length === 1 && /call_tool\("lookup"/.test(asked[0].message), `asked: ${JSON.stringify(asked)}`);
    assert(asked[0].requestedSchema.properties.approve.type === 'boolean', 'a yes/no form');
  } finally {
    await s.close();
  }
});

testOwn('approval through elicitation: declined', async () => {
  const s = await connect(upfrontConfig, { elicit: async () => ({ action: 'decline' }) });
  try {
    const r = await run(s.client, 'print("should not run")');
    assert(r.isError === true && /declined/.test(textOf(r)) && !/should not run\n/.test(textOf(r).split('\n')[0]), textOf(r));
  } finally {
    await s.close();
  }
});

testOwn('approval without elicitation is denied with a reason', async () => {
  const s = await connect(upfrontConfig);
  try {
    const r = await run(s.client, 'print(1)');
    assert(r.isError === true && /elicitation/.test(textOf(r)), textOf(r));
  } finally {
    await s.close();
  }
});

testOwn('per-call approval of a tool called from the code', async () => {
  const s = await connect(perCallConfig, {
    elicit: async (req) => ({ action: 'accept', content: { approve: /"alice"/.test(req.params.message) } }),
  });
  try {
    const r = await run(s.client, 'print(call_tool("send", to="alice"))\ntry:\n    call_tool("send", to="mallory")\nexcept PermissionError as e:\n    print("denied:", e)');
    assert(!r.isError, textOf(r));
    assert(/'sent_to': 'alice'/.test(textOf(r)) && /denied:/.test(textOf(r)), textOf(r));
  } finally {
    await s.close();
  }
});

let failed = 0;
async function attempt(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok - ${transport}: ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${transport}: ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

const shared = config('shared.json', JSON.parse(fs.readFileSync(mainConfig)));
let s;
try {
  s = await connect(shared);
  for (const c of cases) await attempt(c.name, () => c.fn({ ...s, configPath: shared }));
} catch (e) {
  failed++;
  console.log(`not ok - ${transport}: connecting: ${e && e.stack ? e.stack : e}`);
} finally {
  if (s) await attempt('the server stops cleanly', () => s.close());
}
for (const c of own) await attempt(c.name, c.fn);
fs.rmSync(dir, { recursive: true, force: true });
console.log(failed ? `${failed} failed` : 'all passed');
process.exit(failed ? 1 : 0);
