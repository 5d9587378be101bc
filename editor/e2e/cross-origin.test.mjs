// A web page on another origin cannot change the flows through the admin API
// (no editor users: nothing needs a login), and a DNS-rebound name is refused:
// a real Chromium, an attacker page served by a tiny HTTP server on another
// port, and a name mapped to 127.0.0.1 by Chromium's host resolver rules.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { after, before, test } from 'node:test'
import { chromium } from 'playwright-core'
import { chromiumArgs, chromiumPath, dragFromPalette, freePort, newPage, openEditor, startServer, until, within } from './helpers.mjs'

let browser, server, attacker, attackerURL, target

// The attacker's page: fetches that need no CORS preflight, and forms.
const page = (t) => `<!doctype html><meta charset="utf-8"><title>attacker</title>
<iframe name="sink"></iframe>
<form id="plain" method="POST" action="${t}flows" enctype="text/plain" target="sink"><input name='[{"id":"pwn-form","type":"tab","label":"x","pad":"' value='"}]'></form>
<form id="urlenc" method="POST" action="${t}flows" target="sink"><input name="flows" value="[]"></form>
<form id="inject" method="POST" action="${t}inject/i1" target="sink"></form>
<script>
const body = JSON.stringify([{ id: 'pwn-fetch', type: 'tab', label: 'pwned' }])
window.attack = async () => {
  const out = {}
  const tries = {
    textPlain: () => fetch('${t}flows', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body }),
    noCors: () => fetch('${t}flows', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'application/json' }, body }),
    noCorsBlob: () => fetch('${t}flows', { method: 'POST', mode: 'no-cors', body: new Blob([body]) }),
    rollback: () => fetch('${t}flows/revisions/1/rollback', { method: 'POST', mode: 'no-cors' }),
    inject: () => fetch('${t}inject/i1', { method: 'POST', mode: 'no-cors' }),
  }
  for (const [name, f] of Object.entries(tries)) {
    try {
      const r = await f()
      out[name] = r.type === 'opaque' ? 'opaque' : 'status ' + r.status
    } catch (e) {
      out[name] = 'failed'
    }
  }
  return out
}
</script>`

before(async () => {
  server = await startServer()
  target = server.url // http://127.0.0.1:PORT/
  browser = await within(30_000, 'chromium launch', () =>
    chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs, '--host-resolver-rules=MAP rebind.test 127.0.0.1'], timeout: 30_000 }),
  )
  const port = await freePort()
  attacker = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' })
    res.end(page(target))
  })
  await new Promise((res) => attacker.listen(port, '127.0.0.1', res))
  attackerURL = `http://127.0.0.1:${port}/`
})
after(async () => {
  await browser?.close()
  await new Promise((res) => (attacker ? attacker.close(res) : res()))
  await server?.stop()
})

/** Records every answer from base (Runnel) the page gets: "METHOD /path status". */
function record(p, base = target) {
  const seen = []
  p.on('response', (r) => {
    if (r.url().startsWith(base)) seen.push(`${r.request().method()} /${r.url().slice(base.length)} ${r.status()}`)
  })
  return seen
}

test('a page on another port cannot deploy, roll back or inject: every attempt is answered 403 and the flows stay', async () => {
  const before = await server.flows()
  const logged = server.output().length
  const { page: p } = await newPage(browser)
  await p.goto(attackerURL)
  const out = await p.evaluate(() => window.attack())
  // The page learns nothing either: CORS hides the answers.
  assert.deepEqual(out, { textPlain: 'failed', noCors: 'opaque', noCorsBlob: 'opaque', rollback: 'opaque', inject: 'opaque' })
  for (const form of ['plain', 'urlenc', 'inject']) {
    const answered = p.waitForResponse((r) => r.url().startsWith(target) && r.request().frame().name() === 'sink')
    await p.evaluate((id) => document.getElementById(id).submit(), form)
    assert.equal((await answered).status(), 403, form + ' form')
  }
  // Runnel logs each refusal (the browser does not report every answer to
  // a request CORS blocks).
  const refused = () => server.output().slice(logged).split('\n').filter((l) => l.includes('editor request refused: cross-origin'))
    .map((l) => `${/method=(\S+)/.exec(l)[1]} ${/path=(\S+)/.exec(l)[1]} ${/origin=(\S+)/.exec(l)[1]}`)
  await until(5_000, 'eight refusals in the log', () => refused().length >= 8)
  const o = attackerURL.slice(0, -1)
  assert.deepEqual(refused().sort(), [
    `POST /flows ${o}`, `POST /flows ${o}`, `POST /flows ${o}`, `POST /flows ${o}`, `POST /flows ${o}`,
    `POST /flows/revisions/1/rollback ${o}`, `POST /inject/i1 ${o}`, `POST /inject/i1 ${o}`,
  ])
  assert.deepEqual(await server.flows(), before)
})

test('a DNS-rebound name is refused (421), also for the page\'s own same-origin requests', async () => {
  const before = await server.flows()
  const { page: p } = await newPage(browser)
  const port = new URL(target).port
  const resp = await p.goto(`http://rebind.test:${port}/`)
  assert.equal(resp.status(), 421)
  const got = await p.evaluate(async () => {
    const g = await fetch('/flows')
    const post = await fetch('/flows', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '[]' })
    return { get: g.status, post: post.status, message: (await post.json()).message }
  })
  assert.deepEqual(got, {
    get: 421, post: 421,
    message: `Host "rebind.test:${port}" is not a name of this editor (DNS rebinding protection): use its address, localhost, or add the name to [editor] allowed_hosts`,
  })
  assert.deepEqual(await server.flows(), before)
})

test('the editor itself still works by localhost: it loads, its websocket connects and it deploys', async () => {
  const { page: p, errors } = await newPage(browser)
  const base = `http://localhost:${new URL(target).port}/`
  const seen = record(p, base)
  const before = (await server.flows()).flows.length
  await openEditor(p, base)
  const conn = p.getByTestId('connection')
  await until(5000, 'the websocket to open', async () => (await conn.getAttribute('data-state')) === 'open')
  const box = await p.locator('.rn-canvas').boundingBox()
  await dragFromPalette(p, 'debug', box.x + 500, box.y + 400)
  await p.getByTestId('deploy').click()
  await p.getByTestId('notice-success').waitFor()
  assert.equal((await server.flows()).flows.length, before + 1)
  assert.ok(seen.includes('POST /flows 200'), seen.join('\n'))
  assert.ok(!seen.some((s) => / (403|415|421)$/.test(s)), seen.join('\n'))
  assert.deepEqual(errors, [])
})
